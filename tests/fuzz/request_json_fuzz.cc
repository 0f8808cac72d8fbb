// The node's HTTP request bodies: JSON parsed, then read into every command there is.
#include "../../node/src/request_json.h"
#include "fuzz_target.h"
#include "tongban/shared/http_server.h"

using namespace tongban;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  auto j = parse_json_object(body);
  if (!j.ok()) return 0;
  (void)node::application_from(*j);
  (void)node::accept_from(*j);
  (void)node::booking_from(*j);
  (void)json_string(*j, "username");
  for (const char* action :
       {"prereview-outcome", "submit", "request-materials", "supply", "accept", "refuse", "review",
        "suspend", "resume", "decide", "withdraw", "deliver", "rate", "callback", "rectify"})
    (void)node::action_command(action, *j);
  return 0;
}

std::vector<std::string> fuzz_seeds() {
  return {
      R"({"item_code":"RS001","applicant":{"name":"张三","id_number":"11010519491231002X","phone":"13912345678"},"provided":["ID","PHOTO"],"accept":{}})",
      R"({"item_code":"MZ002","applicant":{"name":"李四","id_number":"11010519491231002X","phone":"13912345678","enterprise":false},"provided":["ID"],"committed":["INCOME"],"authorization":{"document_no":"WT-1","signed_date":"2026-01-05","priority_group":"elderly"}})",
      R"({"missing":["PHOTO"],"tolerate":true,"supply_days":3,"note":"补正"})",
      R"({"approve":true,"reason":"","level":5,"comment":"好","method":"post","tracking_no":"SF1"})",
      R"({"username":"clerk","password":"x","role":"clerk","display_name":"窗口"})",
      R"({"item_code":"GA002","date":"2026-11-03","slot":"09:00","applicant":{"name":"王五","id_number":"11010519491231002X","phone":"13912345678"}})",
      R"([1,2,{"a":null}])",
  };
}
