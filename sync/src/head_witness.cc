#include "tongban/sync/head_witness.h"

#include <fstream>
#include <sstream>

namespace tongban::sync {

namespace {
constexpr const char* kMagic = "tongban-head-v1";
}  // namespace

Status write_head_witness(const std::filesystem::path& file, const std::string& origin,
                          const ChainHead& head, const SigningKey& key) {
  const Signature sig = key.sign(chain_head_message(origin, head));
  const std::filesystem::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << kMagic << ' ' << origin << ' ' << head.seq << ' ' << to_hex(head.hash) << ' '
        << to_hex(sig) << '\n';
    if (!out.flush()) return Status::Unavailable("cannot write " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec) return Status::Unavailable("cannot replace " + file.string() + ": " + ec.message());
  return Status::Ok();
}

Result<std::optional<ChainHead>> read_head_witness(const std::filesystem::path& file,
                                                   const std::string& origin,
                                                   const PublicKey& key) {
  std::ifstream in(file);
  if (!in) return std::optional<ChainHead>();
  std::string line;
  if (!std::getline(in, line) || in.eof()) return std::optional<ChainHead>();  // cut short
  std::istringstream fields(line);
  std::string magic, who, hash_hex, sig_hex;
  ChainHead head;
  if (!(fields >> magic >> who >> head.seq >> hash_hex >> sig_hex) || magic != kMagic)
    return std::optional<ChainHead>();
  Signature sig{};
  if (who != origin || !from_hex(hash_hex, head.hash) || !from_hex(sig_hex, sig) ||
      !verify_signature(key, chain_head_message(origin, head), sig))
    return Status::Corruption("the head witness " + file.string() +
                              " was not signed by this site's key for " + origin);
  return std::optional<ChainHead>(head);
}

}  // namespace tongban::sync
