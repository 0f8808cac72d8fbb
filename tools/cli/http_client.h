// The CLI's HTTP client for a node's or the hub's URL.
//
// https:// URLs are verified against the district CA: the file in $TONGBAN_CA (or given
// with `tongban --ca FILE`; site-config/district-ca.pem), else the system's trust store,
// where an operator may have installed the district CA. A certificate that does not verify
// is refused, never accepted with a warning.
//
// Thread safety: one client per thread.
#pragma once

#include <httplib.h>

#include <cstdlib>
#include <memory>
#include <string>

namespace tongban::cli {

inline std::unique_ptr<httplib::Client> daemon_client(const std::string& url) {
  auto c = std::make_unique<httplib::Client>(url);
  if (const char* ca = std::getenv("TONGBAN_CA"); ca && *ca) c->set_ca_cert_path(ca);
  c->enable_server_certificate_verification(true);
  c->set_connection_timeout(5, 0);
  return c;
}

}  // namespace tongban::cli
