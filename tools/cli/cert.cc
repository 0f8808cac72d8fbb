// tongban cert: the district's own certificate authority for HTTPS on the LAN.
//
//   tongban cert init-ca --site-config DIR --ca-key FILE
//       creates the district CA (ECDSA P-256, 10 years): its key in FILE (0600; keep it on
//       the hub's key medium, never on a window PC) and its certificate in
//       DIR/district-ca.pem, which travels with site-config to every site and is what
//       window PCs, tablets and `tongban --ca` trust. `tongban provision --hub` runs it.
//   tongban cert issue --site-config DIR --ca-key FILE --name S01 --host 10.20.1.11 …
//       issues a server certificate (ECDSA P-256, 397 days, serverAuth, the hosts as
//       subjectAltName) into --out-dir as tls.crt (with the CA certificate after it) and
//       tls.key (0600). Issuing again over existing files is the rotation: the daemon
//       serves the new one from its next start (`systemctl restart`, a graceful stop).
// An existing CA's files serve as well: --ca-cert and --ca-key name them.
#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>

#include "commands.h"
#include "tongban/shared/status.h"

namespace tongban::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kCaCertFile = "district-ca.pem";


struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* c) const { X509_free(c); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

Status openssl_failed(const std::string& what) {
  return Status::Internal("OpenSSL could not " + what);
}

Key new_key() { return Key(EVP_EC_gen("P-256")); }

// Writes PEM text through `write` into `file` atomically, mode 0600.
template <typename F>
Status write_pem(const fs::path& file, F write) {
  const fs::path tmp = file.string() + ".tmp";
  fs::remove(tmp);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  FILE* f = fd < 0 ? nullptr : fdopen(fd, "w");
  if (!f) return Status::Unavailable("cannot write " + tmp.string());
  const bool ok = write(f);
  const bool closed = fflush(f) == 0 && fsync(fileno(f)) == 0;
  fclose(f);
  if (!ok || !closed) return Status::Unavailable("cannot write " + file.string());
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  std::error_code ec;
  fs::rename(tmp, file, ec);
  return ec ? Status::Unavailable("cannot rename to " + file.string()) : Status::Ok();
}

Result<Key> read_key(const fs::path& file) {
  FILE* f = fopen(file.c_str(), "r");
  if (!f)
    return Status::NotFound("no_ca_key", "找不到 CA 私钥文件：" + file.string(),
                            "cannot read the CA key " + file.string());
  Key k(PEM_read_PrivateKey(f, nullptr, nullptr, nullptr));
  fclose(f);
  if (!k)
    return Status::InvalidArgument("bad_ca_key", "CA 私钥文件无法解析：" + file.string(),
                                   "the CA key does not parse: " + file.string());
  return k;
}

Result<Cert> read_cert(const fs::path& file) {
  FILE* f = fopen(file.c_str(), "r");
  if (!f)
    return Status::NotFound("no_ca_cert", "找不到 CA 证书：" + file.string() + "（请先运行 tongban cert init-ca）",
                            "cannot read the CA certificate " + file.string() + " (run tongban cert init-ca)");
  Cert c(PEM_read_X509(f, nullptr, nullptr, nullptr));
  fclose(f);
  if (!c)
    return Status::InvalidArgument("bad_ca_cert", "CA 证书无法解析：" + file.string(),
                                   "the CA certificate does not parse: " + file.string());
  return c;
}

bool add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A certificate for `key` named `cn`, valid `days`, signed by `issuer_key` (issuer null:
// self-signed). `extensions` are (nid, OpenSSL config value).
Result<Cert> make_cert(EVP_PKEY* key, const std::string& cn, int days, X509* issuer,
                       EVP_PKEY* issuer_key, const std::vector<std::pair<int, std::string>>& extensions) {
  Cert c(X509_new());
  if (!c) return openssl_failed("allocate a certificate");
  X509_set_version(c.get(), 2);  // v3
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return openssl_failed("draw a serial number");
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  const bool numbered = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c.get()));
  BN_free(bn);
  if (!numbered) return openssl_failed("set the serial number");
  X509_NAME* name = X509_get_subject_name(c.get());
  if (!X509_gmtime_adj(X509_getm_notBefore(c.get()), -300) ||  // a clock a few minutes behind
      !X509_gmtime_adj(X509_getm_notAfter(c.get()), static_cast<long>(days) * 86400) ||
      X509_set_pubkey(c.get(), key) != 1 ||
      X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>("tongban district"), -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0) != 1)
    return openssl_failed("fill in the certificate");
  X509* signer = issuer ? issuer : c.get();
  X509_set_issuer_name(c.get(), X509_get_subject_name(signer));
  for (const auto& [nid, value] : extensions)
    if (!add_ext(c.get(), signer, nid, value)) return openssl_failed("add extension " + value);
  if (X509_sign(c.get(), issuer_key, EVP_sha256()) <= 0) return openssl_failed("sign");
  return c;
}

struct CertOptions {
  std::string config_dir = "site-config", ca_key, ca_cert, name, out_dir;
  std::vector<std::string> hosts;
  int days = 397;
};

fs::path ca_cert_file(const CertOptions& o) {
  return o.ca_cert.empty() ? fs::path(o.config_dir) / kCaCertFile : fs::path(o.ca_cert);
}

}  // namespace

Status init_ca(const std::string& config_dir, const std::string& ca_key_file) {
  const fs::path cert_file = fs::path(config_dir) / kCaCertFile;
  if (fs::exists(ca_key_file) && fs::exists(cert_file)) return Status::Ok();  // kept
  if (fs::exists(ca_key_file) || fs::exists(cert_file))
    return Status::Conflict("ca_half_present", "CA 私钥与证书只存在其一，请检查：" + ca_key_file,
                            "only one of the CA key and certificate exists: " + ca_key_file + ", " +
                                cert_file.string());
  Key key = new_key();
  if (!key) return openssl_failed("generate the CA key");
  auto cert = make_cert(key.get(), "tongban district CA", 3650, nullptr, key.get(),
                        {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                         {NID_key_usage, "critical,keyCertSign,cRLSign"},
                         {NID_subject_key_identifier, "hash"}});
  if (!cert.ok()) return cert.status();
  TB_RETURN_IF_ERROR(write_pem(ca_key_file, [&](FILE* f) {
    return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  }));
  TB_RETURN_IF_ERROR(write_pem(cert_file, [&](FILE* f) { return PEM_write_X509(f, cert->get()) == 1; }));
  // The certificate is public: every PC of the district reads it.
  fs::permissions(cert_file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                 fs::perms::others_read,
                  fs::perm_options::replace);
  return Status::Ok();
}

namespace {

int issue(const CertOptions& o) {
  if (o.hosts.empty())
    return failed(Status::InvalidArgument("no_host", "请用 --host 给出该站点被访问的地址或主机名",
                                        "name the addresses or host names the site is reached at (--host)"));
  auto ca_key = read_key(o.ca_key);
  if (!ca_key.ok()) return failed(ca_key.status());
  auto ca = read_cert(ca_cert_file(o));
  if (!ca.ok()) return failed(ca.status());
  if (X509_check_private_key(ca->get(), ca_key->get()) != 1)
    return failed(Status::InvalidArgument("ca_mismatch", "CA 私钥与 CA 证书不匹配",
                                        "the CA key does not belong to the CA certificate"));
  std::string san;
  for (const std::string& h : o.hosts) {
    if (h.empty() || h.find_first_of(",\n\r \t") != std::string::npos)
      return failed(Status::InvalidArgument("bad_host", "主机名无效：" + h, "not a host name or address: " + h));
    if (!san.empty()) san += ",";
    unsigned char buf[16];
    const bool ip = inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
    san += (ip ? "IP:" : "DNS:") + h;
  }
  Key key = new_key();
  if (!key) return failed(openssl_failed("generate a key"));
  auto cert = make_cert(key.get(), o.name, o.days, ca->get(), ca_key->get(),
                        {{NID_basic_constraints, "critical,CA:FALSE"},
                         {NID_key_usage, "critical,digitalSignature"},
                         {NID_ext_key_usage, "serverAuth"},
                         {NID_subject_alt_name, san},
                         {NID_subject_key_identifier, "hash"},
                         {NID_authority_key_identifier, "keyid:always"}});
  if (!cert.ok()) return failed(cert.status());
  const fs::path dir(o.out_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  // The key first: a daemon never finds a new certificate beside the old key for long.
  if (Status s = write_pem(dir / "tls.key", [&](FILE* f) {
        return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
      });
      !s.ok())
    return failed(s);
  if (Status s = write_pem(dir / "tls.crt", [&](FILE* f) {
        return PEM_write_X509(f, cert->get()) == 1 && PEM_write_X509(f, ca->get()) == 1;
      });
      !s.ok())
    return failed(s);
  char serial_hex[64] = "";
  if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert->get()), nullptr)) {
    char* hex = BN_bn2hex(bn);
    snprintf(serial_hex, sizeof serial_hex, "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
  }
  std::cout << "issued " << (dir / "tls.crt").string() << " for " << o.name << " (" << san << "), serial "
            << serial_hex << ", valid " << o.days << " days / 证书已签发（重启服务后生效）\n";
  return 0;
}

}  // namespace

void add_cert(CLI::App& app) {
  CLI::App* cert = app.add_subcommand("cert", "区级 CA 与站点 HTTPS 证书 / the district CA and sites' HTTPS certificates");
  cert->require_subcommand(1);
  auto o = std::make_shared<CertOptions>();
  CLI::App* init = cert->add_subcommand("init-ca", "创建区级 CA（已存在则保留）/ create the district CA (kept if present)");
  init->add_option("--site-config", o->config_dir, "站点配置目录（写入 district-ca.pem）/ site-config dir");
  init->add_option("--ca-key", o->ca_key, "CA 私钥文件（放在区级中心的密钥介质上）/ the CA key file")->required();
  init->callback([o] {
    const Status s = init_ca(o->config_dir, o->ca_key);
    exit_code() = s.ok() ? 0 : failed(s);
    if (s.ok()) std::cout << "district CA: " << (fs::path(o->config_dir) / kCaCertFile).string() << "\n";
  });
  CLI::App* issue_cmd = cert->add_subcommand(
      "issue", "为站点或区级中心签发 HTTPS 证书（重复签发即轮换）/ issue (or rotate) a server certificate");
  issue_cmd->add_option("--site-config", o->config_dir, "站点配置目录（读取 district-ca.pem）/ site-config dir");
  issue_cmd->add_option("--ca-cert", o->ca_cert, "已有 CA 的证书（默认 site-config/district-ca.pem）/ an existing CA's certificate");
  issue_cmd->add_option("--ca-key", o->ca_key, "CA 私钥文件 / the CA key file")->required();
  issue_cmd->add_option("--name", o->name, "证书名称，如站点编号 / the certificate's name, e.g. S01")->required();
  issue_cmd->add_option("--host", o->hosts, "访问该服务的地址或主机名（可多个）/ an address or host name (repeatable)");
  issue_cmd->add_option("--out-dir", o->out_dir, "写入 tls.crt 与 tls.key 的目录（通常为数据目录）/ where tls.crt and tls.key go")
      ->required();
  issue_cmd->add_option("--days", o->days, "有效天数 / days valid")->check(CLI::Range(1, 825));
  issue_cmd->callback([o] { exit_code() = issue(*o); });
}

}  // namespace tongban::cli
