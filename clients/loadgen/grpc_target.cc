#include "clients/loadgen/grpc_target.h"

#include <grpcpp/grpcpp.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "junction/v1/generation.grpc.pb.h"

namespace junction::loadgen {
namespace {

std::string CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    default:
      return absl::StrCat("CODE_", static_cast<int>(code));
  }
}

std::chrono::system_clock::time_point SystemDeadline(int64_t deadline_ns) {
  const auto left = std::chrono::nanoseconds(deadline_ns - NowNs());
  return std::chrono::system_clock::now() + left;
}

class GrpcTarget final : public Target {
 public:
  GrpcTarget(const LoadgenOptions& options, std::shared_ptr<grpc::Channel> channel)
      : options_(options), stub_(v1::Generation::NewStub(channel)) {}

  std::string name() const override { return "grpc"; }

  RequestRecord Send(const RequestSpec& spec, int64_t deadline_ns, StopSignal& stop) override {
    RequestRecord record;
    record.index = spec.index;
    record.id = spec.id;
    record.input_tokens = static_cast<int>(spec.prompt_ids.size());
    grpc::ClientContext context;
    context.set_deadline(SystemDeadline(deadline_ns));
    context.AddMetadata("x-request-id", spec.id);
    if (!options_.api_key.empty())
      context.AddMetadata("authorization", "Bearer " + options_.api_key);
    // The reader blocks in Read(); stopping the run cancels the call.
    const int handle = stop.Register([&context] { context.TryCancel(); });
    record.send_ns = NowNs();
    std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader =
        stub_->Generate(&context, MakeRequest(spec));
    v1::GenerateResponse response;
    bool has_result = false;
    while (reader->Read(&response)) {
      const int64_t now = NowNs();
      if (response.has_delta()) {
        if (response.delta().token_ids_size() > 0) {
          record.chunk_ns.push_back(now);
          record.output_tokens += response.delta().token_ids_size();
        }
      } else if (response.has_result()) {
        has_result = true;
        record.finish_reason = response.result().finish_reason();
        record.input_tokens = response.result().usage().prompt_tokens();
        record.output_tokens = response.result().usage().completion_tokens();
      }
    }
    const grpc::Status status = reader->Finish();
    record.end_ns = NowNs();
    stop.Remove(handle);
    if (!status.ok()) {
      record.error_kind = stop.stopped() ? "stopped"
                          : status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                              ? "timeout"
                              : "grpc_" + CodeName(status.error_code());
      record.error_message = status.error_message().substr(0, 200);
    } else if (!has_result) {
      record.error_kind = "incomplete_stream";
      record.error_message = "the stream ended without a result message";
    } else {
      record.ok = true;
    }
    return record;
  }

 private:
  v1::GenerateRequest MakeRequest(const RequestSpec& spec) const {
    v1::GenerateRequest request;
    request.set_model(options_.model);
    if (!spec.prompt_ids.empty()) {
      for (int id : spec.prompt_ids) request.mutable_token_ids()->add_ids(id);
    } else {
      request.set_text(spec.prompt_text);
    }
    v1::SamplingParams* sampling = request.mutable_sampling();
    sampling->set_max_tokens(spec.max_tokens);
    sampling->set_temperature(static_cast<float>(options_.temperature));
    sampling->set_ignore_eos(options_.ignore_eos);
    return request;
  }

  LoadgenOptions options_;
  std::unique_ptr<v1::Generation::Stub> stub_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> CreateGrpcTarget(const LoadgenOptions& options) {
  const std::string address = absl::StrCat(options.host, ":", options.port);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10)))
    return absl::UnavailableError(absl::StrCat("cannot connect to gRPC ", address));
  return std::unique_ptr<Target>(new GrpcTarget(options, std::move(channel)));
}

}  // namespace junction::loadgen
