#include "engine/model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "nlohmann/json.hpp"

namespace junction {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;

absl::StatusOr<DType> ParseDType(const std::string& s) {
  if (s == "F32") return DType::kF32;
  if (s == "BF16") return DType::kBF16;
  if (s == "F16") return DType::kF16;
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported dtype '", s, "' (supported: F32, BF16, F16)"));
}

struct Span {
  uint64_t begin, end;
  std::string name;
};

absl::StatusOr<TensorView> ParseEntry(const std::string& name, const nlohmann::json& entry,
                                      const uint8_t* data, uint64_t data_bytes, Span* span) {
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "': ", why));
  };
  if (!entry.is_object()) return bad("entry is not an object");
  if (!entry.contains("dtype") || !entry["dtype"].is_string()) return bad("missing dtype");
  if (!entry.contains("shape") || !entry["shape"].is_array()) return bad("missing shape");
  if (!entry.contains("data_offsets") || !entry["data_offsets"].is_array() ||
      entry["data_offsets"].size() != 2)
    return bad("data_offsets must be [begin, end]");
  auto dtype = ParseDType(entry["dtype"].get<std::string>());
  if (!dtype.ok()) return bad(std::string(dtype.status().message()));
  TensorView view;
  view.dtype = *dtype;
  uint64_t count = 1;
  for (const auto& dim : entry["shape"]) {
    if (!dim.is_number_unsigned()) return bad("shape entries must be non-negative integers");
    const uint64_t d = dim.get<uint64_t>();
    if (d != 0 && count > UINT64_MAX / d) return bad("shape product overflows");
    count *= d;
    view.shape.push_back(static_cast<int64_t>(d));
  }
  const uint64_t size = static_cast<uint64_t>(DTypeSize(*dtype));
  if (count > UINT64_MAX / size) return bad("byte size overflows");
  for (const auto& off : entry["data_offsets"])
    if (!off.is_number_unsigned()) return bad("data_offsets must be non-negative integers");
  span->begin = entry["data_offsets"][0].get<uint64_t>();
  span->end = entry["data_offsets"][1].get<uint64_t>();
  span->name = name;
  if (span->end < span->begin) return bad("data_offsets end < begin");
  if (span->end > data_bytes)
    return bad(absl::StrCat("data_offsets [", span->begin, ", ", span->end,
                            ") run past the end of the data (", data_bytes, " bytes)"));
  if (span->end - span->begin != count * size)
    return bad(absl::StrCat("byte size ", span->end - span->begin, " does not match dtype ",
                            DTypeName(*dtype), " x shape (", count * size, " bytes)"));
  view.data = data + span->begin;
  return view;
}

}  // namespace

int64_t TensorView::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

absl::StatusOr<std::map<std::string, TensorView>> SafetensorsFile::ParseHeader(
    const std::string& name, const uint8_t* bytes, uint64_t file_size) {
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", why));
  };
  if (file_size < 8) return bad("file is shorter than the 8-byte header length");
  uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, bytes, 8);  // little-endian on every target we build for
  if (header_bytes > kMaxHeaderBytes)
    return bad(absl::StrCat("header of ", header_bytes, " bytes exceeds the 100,000,000 limit"));
  if (header_bytes > file_size - 8) return bad("file is truncated inside the header");
  nlohmann::json header = nlohmann::json::parse(bytes + 8, bytes + 8 + header_bytes, nullptr,
                                                /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) return bad("header is not a JSON object");
  const uint8_t* data = bytes + 8 + header_bytes;
  const uint64_t data_bytes = file_size - 8 - header_bytes;
  std::map<std::string, TensorView> tensors;
  std::vector<Span> spans;
  for (const auto& [key, entry] : header.items()) {
    if (key == "__metadata__") continue;
    Span span;
    auto view = ParseEntry(key, entry, data, data_bytes, &span);
    if (!view.ok()) return bad(std::string(view.status().message()));
    tensors.emplace(key, std::move(*view));
    spans.push_back(std::move(span));
  }
  // Offsets must tile [0, total) exactly: no gaps, no overlaps.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected = 0;
  for (const Span& s : spans) {
    if (s.begin != expected)
      return bad(absl::StrCat("tensor '", s.name, "': data_offsets begin at ", s.begin,
                              " but the previous tensor ends at ", expected,
                              s.begin < expected ? " (overlap)" : " (gap)"));
    expected = s.end;
  }
  if (expected != data_bytes)
    return bad(absl::StrCat("tensor data covers ", expected, " bytes but the file holds ",
                            data_bytes, " bytes after the header"));
  return tensors;
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return absl::InternalError(absl::StrCat(path, ": cannot stat"));
  }
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  file->mapping_bytes_ = static_cast<uint64_t>(st.st_size);
  if (file->mapping_bytes_ > 0) {
    void* m = ::mmap(nullptr, file->mapping_bytes_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      ::close(fd);
      return absl::InternalError(absl::StrCat(path, ": mmap failed: ", strerror(errno)));
    }
    file->mapping_ = m;
  }
  ::close(fd);
  static const uint8_t kEmpty[8] = {};
  const uint8_t* bytes = file->mapping_ ? static_cast<const uint8_t*>(file->mapping_) : kEmpty;
  ASSIGN_OR_RETURN(file->tensors_, ParseHeader(path, bytes, file->mapping_bytes_));
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (mapping_) ::munmap(mapping_, mapping_bytes_);
}

absl::Status WriteSafetensorsF32(const std::string& path, const std::vector<NamedTensor>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const NamedTensor& t : tensors) {
    uint64_t count = 1;
    for (int64_t d : t.shape) count *= static_cast<uint64_t>(d);
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + 4 * count}}};
    offset += 4 * count;
  }
  std::string text = header.dump();
  while ((text.size() + 8) % 8 != 0) text.push_back(' ');  // keep data 8-byte aligned
  std::ofstream out(path, std::ios::binary);
  if (!out) return absl::InternalError(absl::StrCat(path, ": cannot write"));
  const uint64_t n = text.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const NamedTensor& t : tensors) {
    uint64_t count = 1;
    for (int64_t d : t.shape) count *= static_cast<uint64_t>(d);
    out.write(reinterpret_cast<const char*>(t.data), static_cast<std::streamsize>(4 * count));
  }
  if (!out) return absl::InternalError(absl::StrCat(path, ": write failed"));
  return absl::OkStatus();
}

}  // namespace junction
