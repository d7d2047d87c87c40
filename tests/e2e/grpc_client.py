"""A gRPC client for junction.v1 built at run time from protoc's FileDescriptorSet (python3-grpcio
+ python3-protobuf from Debian; no generated Python code)."""
import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


class JunctionClient:
    def __init__(self, target, descriptor_set_path, metadata=()):
        fds = descriptor_pb2.FileDescriptorSet()
        with open(descriptor_set_path, "rb") as f:
            fds.ParseFromString(f.read())
        pool = descriptor_pool.DescriptorPool()
        for file_proto in fds.file:
            pool.Add(file_proto)
        self.pool = pool
        self.channel = grpc.insecure_channel(target)
        self.metadata = tuple(metadata)
        self._service = pool.FindServiceByName("junction.v1.Generation")

    def message(self, full_name):
        desc = self.pool.FindMessageTypeByName(full_name)
        if hasattr(message_factory, "GetMessageClass"):
            return message_factory.GetMessageClass(desc)
        return message_factory.MessageFactory(self.pool).GetPrototype(desc)

    def _method(self, name, streaming):
        method = self._service.FindMethodByName(name)
        request_cls = self.message(method.input_type.full_name)
        response_cls = self.message(method.output_type.full_name)
        path = f"/junction.v1.Generation/{name}"
        factory = self.channel.unary_stream if streaming else self.channel.unary_unary
        return request_cls, factory(path, request_serializer=request_cls.SerializeToString,
                                    response_deserializer=response_cls.FromString)

    def generate(self, timeout=None, **fields):
        """Returns the response iterator (a grpc.Call: cancel(), code())."""
        request_cls, call = self._method("Generate", streaming=True)
        return call(request_cls(**fields), timeout=timeout, metadata=self.metadata)

    def unary(self, name, timeout=30, **fields):
        request_cls, call = self._method(name, streaming=False)
        return call(request_cls(**fields), timeout=timeout, metadata=self.metadata)

    def health(self, service=""):
        # grpc.health.v1.Health/Check: HealthCheckRequest{string service = 1} ->
        # HealthCheckResponse{ServingStatus status = 1} (1 = SERVING, 2 = NOT_SERVING).
        encoded = service.encode()
        request = (b"\x0a" + bytes([len(encoded)]) + encoded) if encoded else b""
        call = self.channel.unary_unary("/grpc.health.v1.Health/Check",
                                        request_serializer=lambda b: b,
                                        response_deserializer=lambda b: b)
        raw = call(request, timeout=5)
        return raw[1] if len(raw) >= 2 and raw[0] == 0x08 else 0

    def reflection_services(self):
        # grpc.reflection.v1alpha.ServerReflection: ServerReflectionRequest{list_services = 7}.
        call = self.channel.stream_stream(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            request_serializer=lambda b: b, response_deserializer=lambda b: b)
        responses = call(iter([b"\x3a\x00"]), timeout=5)
        return b"".join(responses)
