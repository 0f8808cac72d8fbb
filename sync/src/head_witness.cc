#include "tongban/sync/head_witness.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

namespace tongban::sync {

namespace {
constexpr const char* kMagic = "tongban-head-v1";
constexpr size_t kSlot = 256;

std::optional<ChainHead> parse_slot(std::string_view slot, const std::string& origin,
                                    const PublicKey& key) {
  std::istringstream fields{std::string(slot)};
  std::string magic, who, hash_hex, sig_hex;
  ChainHead head;
  Signature sig{};
  if (!(fields >> magic >> who >> head.seq >> hash_hex >> sig_hex) || magic != kMagic ||
      who != origin || !from_hex(hash_hex, head.hash) || !from_hex(sig_hex, sig) ||
      !verify_signature(key, chain_head_message(origin, head), sig))
    return std::nullopt;
  return head;
}
}  // namespace

Result<HeadWitness> HeadWitness::open(const std::filesystem::path& file) {
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return Status::Unavailable("cannot open " + file.string() + ": " + std::strerror(errno));
  return HeadWitness(fd);
}

HeadWitness::~HeadWitness() {
  if (fd_ >= 0) ::close(fd_);
}

Status HeadWitness::write(const std::string& origin, const ChainHead& head,
                          const Signature& signature) {
  std::string line = std::string(kMagic) + ' ' + origin + ' ' + std::to_string(head.seq) + ' ' +
                     to_hex(head.hash) + ' ' + to_hex(signature) + '\n';
  if (line.size() > kSlot) return Status::InvalidArgument("origin", "站点编号过长", "origin too long");
  line.resize(kSlot, ' ');
  const off_t at = static_cast<off_t>((head.seq % 2) * kSlot);
  if (::pwrite(fd_, line.data(), line.size(), at) != static_cast<ssize_t>(line.size()))
    return Status::Unavailable(std::string("head witness not written: ") + std::strerror(errno));
  return Status::Ok();
}

Result<std::optional<ChainHead>> read_head_witness(const std::filesystem::path& file,
                                                   const std::string& origin,
                                                   const PublicKey& key) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::optional<ChainHead>();
  char buf[2 * kSlot] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf, 0);
  ::close(fd);
  std::optional<ChainHead> best;
  int written = 0;
  for (size_t slot = 0; n > 0 && slot * kSlot < static_cast<size_t>(n); ++slot) {
    const size_t len = std::min(kSlot, static_cast<size_t>(n) - slot * kSlot);
    const std::string_view bytes(buf + slot * kSlot, len);
    if (bytes.find_first_not_of('\0') == std::string_view::npos) continue;  // never written
    ++written;
    auto head = parse_slot(bytes, origin, key);
    if (head && (!best || head->seq > best->seq)) best = head;
  }
  if (!best && written == 2)
    return Status::Corruption("the head witness " + file.string() +
                              " holds no head signed by this site's key for " + origin);
  return best;
}

}  // namespace tongban::sync
