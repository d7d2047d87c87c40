// The junction.v1.Generation gRPC service (synchronous API: one thread per call). Generate
// streams deltas and ends with a result; a cancelled call or a passed deadline cancels the
// engine request at once, freeing its blocks.
#pragma once

#include "junction/v1/generation.grpc.pb.h"
#include "server/serving_state.h"

namespace junction::server {

class GenerationService final : public v1::Generation::Service {
 public:
  explicit GenerationService(ServingState& state) : state_(state) {}

  grpc::Status Generate(grpc::ServerContext* context, const v1::GenerateRequest* request,
                        grpc::ServerWriter<v1::GenerateResponse>* writer) override;
  grpc::Status Tokenize(grpc::ServerContext* context, const v1::TokenizeRequest* request,
                        v1::TokenizeResponse* response) override;
  grpc::Status Detokenize(grpc::ServerContext* context, const v1::DetokenizeRequest* request,
                          v1::DetokenizeResponse* response) override;
  grpc::Status ListModels(grpc::ServerContext* context, const v1::ListModelsRequest* request,
                          v1::ListModelsResponse* response) override;

 private:
  // The model when the caller may use it: Unauthenticated (bad key), Unavailable (loading or
  // draining).
  absl::StatusOr<const ServedModel*> Authorize(const grpc::ServerContext& context) const;

  ServingState& state_;
};

}  // namespace junction::server
