// Private to node/: turns HTTP request bodies into domain commands. Wrong types, missing
// objects and unknown shapes come back as InvalidArgument; nothing here touches storage.
#pragma once

#include <nlohmann/json.hpp>

#include "tongban/node/case_service.h"
#include "tongban/shared/case.h"

namespace tongban::node {

Result<ApplicationInput> application_from(const nlohmann::json& j);
Result<AcceptInput> accept_from(const nlohmann::json& j);
Result<BookingInput> booking_from(const nlohmann::json& j);
// The command for POST /cases/{id}/{action}; NotFound for an unknown action.
Result<Command> action_command(const std::string& action, const nlohmann::json& j);
// The resident's rating body: {level 1..5, comment, channel pad|qr, indicators:{efficiency,
// quality, attitude}} (the ranges are checked by decide).
Result<Rate> rating_from(const nlohmann::json& j);
// A rating ticket's optional `window` (窗口号, 1-99; absent: 0, not given).
Result<int> ticket_window(const nlohmann::json& j);

}  // namespace tongban::node
