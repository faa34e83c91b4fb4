"""The typed Python client and the `hireserve` CLI: grpcio and protobuf only, no torch.

    from clients import HireClient
    with HireClient("127.0.0.1:50051") as client:
        result = client.screen(Path("jd.txt").read_text(), Path("resume.pdf"))
"""

from clients.aio import AsyncHireClient
from clients.channel import TlsConfig
from clients.client import HireClient
from clients.errors import HireError
from clients.retry import RetryPolicy

__all__ = ["AsyncHireClient", "HireClient", "HireError", "RetryPolicy", "TlsConfig"]
