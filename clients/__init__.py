"""The typed Python client and the `hireserve` CLI: grpcio and protobuf only, no torch."""
