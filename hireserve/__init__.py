"""hireserve: one namespace for the whole project.

``hireserve.v1`` (generated stubs) and ``hireserve.clients`` need only grpcio and protobuf, so an
HR service can install the client without torch; ``hireserve.server`` (the serving process) and
``hireserve.scheduler`` (pure Python) come with the ``server`` extra's dependencies.
"""

__version__ = "0.1.0"
