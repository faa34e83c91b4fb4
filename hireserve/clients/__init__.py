"""The typed Python client and the `hireserve` CLI: grpcio and protobuf only, no torch.

    from hireserve.clients import HireClient
    with HireClient("127.0.0.1:50051") as client:
        result = client.screen(Path("jd.txt").read_text(), Path("resume.pdf"))
"""

from hireserve.clients.affinity import AffinityPool
from hireserve.clients.aio import AsyncHireClient
from hireserve.clients.channel import TlsConfig
from hireserve.clients.client import HireClient
from hireserve.clients.errors import HireError
from hireserve.clients.retry import RetryPolicy

__all__ = ["AffinityPool", "AsyncHireClient", "HireClient", "HireError", "RetryPolicy", "TlsConfig"]
