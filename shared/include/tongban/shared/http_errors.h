// How a Status reaches an HTTP client, identical on node and hub: the status code for
// each StatusCode and the bilingual error body {"error": {code, message, message_en}}.
//
// Thread safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include "tongban/shared/status.h"

namespace tongban {

int http_status(StatusCode code);
nlohmann::json error_json(const Status& s);

}  // namespace tongban
