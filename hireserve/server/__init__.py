"""The serving process: gRPC service, engine, models, layers."""
