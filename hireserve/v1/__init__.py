"""Generated protobuf and gRPC stubs of ``hireserve.v1``; regenerate with ``make proto``."""
