// Strong id types: a request id cannot be passed where a block id is expected.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace junction {

template <typename Tag, typename Rep = int32_t>
struct StrongId {
  Rep value = -1;
  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep v) : value(v) {}
  constexpr bool valid() const { return value >= 0; }
  constexpr auto operator<=>(const StrongId&) const = default;
};

using RequestId = StrongId<struct RequestIdTag, int64_t>;
using BlockId = StrongId<struct BlockIdTag>;
using StateSlotId = StrongId<struct StateSlotIdTag>;

using TokenId = int32_t;

}  // namespace junction

template <typename Tag, typename Rep>
struct std::hash<junction::StrongId<Tag, Rep>> {
  size_t operator()(const junction::StrongId<Tag, Rep>& id) const {
    return std::hash<Rep>()(id.value);
  }
};
