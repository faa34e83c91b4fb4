"""Continuous-batching scheduler: pure Python (no torch, no grpc), tested in milliseconds."""
