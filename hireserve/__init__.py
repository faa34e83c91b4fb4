"""hireserve: generated gRPC stubs of the public contract (``hireserve.v1``).

Installs without torch: an HR service needs only grpcio and protobuf to call the server.
"""

__version__ = "0.1.0"
