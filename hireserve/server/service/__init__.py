"""gRPC servicers: thin layers from protobuf to the engine and back."""
