"""Registering our servicers with request deserializers that never raise.

grpc answers a deserializer's exception with UNKNOWN and logs a traceback: that is what invalid
UTF-8 in a string field got. Here a request that does not parse becomes an `UndecodableRequest`,
which the RPC wrapper (service/rpc.py) answers INVALID_ARGUMENT, naming the first string field
that holds invalid UTF-8 (`resume.filename`, `resumes[3].resume_id`) when that is the cause.

    add_service(server, servicer, screening_pb2.DESCRIPTOR.services_by_name["ScreeningService"])

does what the generated `add_*Servicer_to_server` does, with these deserializers. They also
note the request's size on the wire for the call (`request_bytes()`, read by the RPC wrapper's
bytes-in-flight cap): grpc deserializes in the call's own task, so a context variable carries
it, and upb's `ByteSize()` would re-encode the message (15 ms for a 19 MiB upload).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, ServiceDescriptor
from google.protobuf.message import DecodeError, Message

MAX_FIELDS_WALKED = 100_000  # finding the bad field is best effort, on the event loop
_REQUEST_BYTES: ContextVar[int] = ContextVar("hireserve_request_bytes", default=0)


def request_bytes() -> int:
    """The size of this call's request as received (0 outside a call)."""
    return _REQUEST_BYTES.get()


@dataclass(frozen=True)
class UndecodableRequest:
    """What the deserializer returns for bytes that do not parse as the request message."""

    field: str | None  # the string field with invalid UTF-8, when that is the cause
    message: str

    def __repr__(self) -> str:
        return f"UndecodableRequest(field={self.field!r})"


def add_service(server: grpc.aio.Server, servicer: Any, service: ServiceDescriptor) -> None:
    kinds = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }
    handlers = {}
    for method in service.methods:
        request = message_factory.GetMessageClass(method.input_type)
        response = message_factory.GetMessageClass(method.output_type)
        handlers[method.name] = kinds[method.client_streaming, method.server_streaming](
            getattr(servicer, method.name), request_deserializer=deserializer(request),
            response_serializer=response.SerializeToString)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service.full_name, handlers),))
    server.add_registered_method_handlers(service.full_name, handlers)


def deserializer(message_class: type[Message]) -> Callable[[bytes], Any]:
    def decode(data: bytes) -> Any:
        _REQUEST_BYTES.set(len(data))
        try:
            return message_class.FromString(data)
        except DecodeError:
            field = invalid_utf8_field(message_class.DESCRIPTOR, data)
            if field is not None:
                return UndecodableRequest(field, "invalid UTF-8 in a string field")
            return UndecodableRequest(None, f"the request is not a valid "
                                            f"{message_class.DESCRIPTOR.full_name} message")

    return decode


def invalid_utf8_field(descriptor: Descriptor, data: bytes) -> str | None:
    """The path of the first string field of `data` (wire format of `descriptor`) that is not
    UTF-8, or None if there is none or the wire format itself is broken."""
    budget = [MAX_FIELDS_WALKED]
    try:
        return _walk(descriptor, memoryview(data), "", budget)
    except (IndexError, ValueError):
        return None


def _walk(descriptor: Descriptor, data: memoryview, prefix: str, budget: list[int]) -> str | None:
    seen: dict[int, int] = {}
    pos = 0
    while pos < len(data):
        budget[0] -= 1
        if budget[0] < 0:
            raise ValueError("too many fields to walk")
        key, pos = _varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            _, pos = _varint(data, pos)
        elif wire_type == 1:
            pos += 8
        elif wire_type == 5:
            pos += 4
        elif wire_type == 2:
            length, pos = _varint(data, pos)
            chunk, pos = data[pos:pos + length], pos + length
            if len(chunk) < length:
                raise ValueError("truncated")
            field = descriptor.fields_by_number.get(number)
            if field is None:
                continue
            index = seen.get(number, 0)
            seen[number] = index + 1
            name: str = prefix + field.name
            if field.is_repeated:
                name += f"[{index}]"
            if field.type == FieldDescriptor.TYPE_STRING:
                try:
                    str(chunk, "utf-8")
                except UnicodeDecodeError:
                    return name
            elif field.type == FieldDescriptor.TYPE_MESSAGE:
                found = _walk(field.message_type, chunk, name + ".", budget)
                if found is not None:
                    return found
        else:
            raise ValueError(f"wire type {wire_type}")
    return None


def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")
