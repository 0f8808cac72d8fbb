// tongban login / api / case / staff: drive a node's HTTP API from scripts. The URL and
// token come from --url/--token or $TONGBAN_URL/$TONGBAN_TOKEN.
#include <httplib.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "http_client.h"

namespace tongban::cli {

namespace {

struct Conn {
  std::string url =
      std::getenv("TONGBAN_URL") ? std::getenv("TONGBAN_URL") : "http://127.0.0.1:8080";
  std::string token = std::getenv("TONGBAN_TOKEN") ? std::getenv("TONGBAN_TOKEN") : "";
};

// Sends one request; prints the JSON answer (stdout) or the error (stderr). Exit code 0
// for 2xx, 1 for an error answer, 2 when the node cannot be reached.
int call(const Conn& c, const std::string& method, const std::string& path, const std::string& body,
         std::string* out = nullptr, const char* content_type = "application/json") {
  auto connection = daemon_client(c.url);
  httplib::Client& client = *connection;
  client.set_read_timeout(30, 0);
  httplib::Headers headers;
  if (!c.token.empty()) headers.emplace("Authorization", "Bearer " + c.token);
  if (method != "GET" && method != "POST") {
    std::cerr << "tongban: 只支持 GET 和 POST / only GET and POST\n";
    return 2;
  }
  httplib::Result res = method == "GET"
                            ? client.Get(path, headers)
                            : client.Post(path, headers, body.empty() ? "{}" : body, content_type);
  if (!res) {
    std::cerr << "tongban: 无法连接节点 " << c.url << " / cannot reach the node ("
              << httplib::to_string(res.error()) << ")\n";
    return 2;
  }
  const auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (res->status >= 200 && res->status < 300) {
    if (out)
      *out = res->body;
    else
      std::cout << (j.is_discarded() ? res->body : j.dump(2)) << "\n";
    return 0;
  }
  if (!j.is_discarded() && j.contains("error"))
    std::cerr << "错误 " << res->status << " " << j["error"].value("code", "") << ": "
              << j["error"].value("message", "") << " / " << j["error"].value("message_en", "")
              << "\n";
  else
    std::cerr << "HTTP " << res->status << "\n";
  return 1;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void add_conn_options(CLI::App* cmd, Conn& c) {
  cmd->add_option("--url", c.url, "节点地址 / node URL ($TONGBAN_URL)");
  cmd->add_option("--token", c.token, "登录令牌 / session token ($TONGBAN_TOKEN)");
}

}  // namespace

void add_client(CLI::App& app) {
  auto conn = std::make_shared<Conn>();
  auto a = std::make_shared<std::string>();
  auto b = std::make_shared<std::string>();
  auto body = std::make_shared<std::string>();
  auto file = std::make_shared<std::string>();

  CLI::App* login =
      app.add_subcommand("login", "登录节点并输出令牌 / log in and print the session token");
  add_conn_options(login, *conn);
  login->add_option("--user", *a, "用户名 / username")->required();
  auto password_env = std::make_shared<std::string>("TONGBAN_PASSWORD");
  login->add_option("--password-env", *password_env,
                    "存放密码的环境变量 / env var holding the password");
  login->callback([=] {
    const char* pw = std::getenv(password_env->c_str());
    const std::string req = nlohmann::json{{"username", *a}, {"password", pw ? pw : ""}}.dump();
    std::string out;
    exit_code() = call(*conn, "POST", "/api/v1/login", req, &out);
    if (exit_code() == 0)
      std::cout << nlohmann::json::parse(out)["token"].get<std::string>() << "\n";
  });

  CLI::App* api = app.add_subcommand("api", "直接调用节点接口 / call any node API endpoint");
  add_conn_options(api, *conn);
  api->add_option("method", *a, "GET | POST")->required();
  api->add_option("path", *b, "例如 /api/v1/cases")->required();
  api->add_option("--body", *body, "JSON 请求体 / JSON body");
  api->add_option("--body-file", *file, "从文件读取请求体 / JSON body from a file");
  api->callback(
      [=] { exit_code() = call(*conn, *a, *b, file->empty() ? *body : read_file(*file)); });

  CLI::App* cases = app.add_subcommand("case", "案件操作 / case commands");
  cases->require_subcommand(1);
  CLI::App* submit = cases->add_subcommand(
      "submit", "提交申请（JSON 文件）/ submit an application from a JSON file");
  add_conn_options(submit, *conn);
  submit->add_option("file", *file, "申请 JSON / application JSON")->required();
  submit->callback([=] { exit_code() = call(*conn, "POST", "/api/v1/cases", read_file(*file)); });

  CLI::App* show = cases->add_subcommand("show", "查看案件 / show a case");
  add_conn_options(show, *conn);
  show->add_option("case_id", *a, "案件编号 / case id")->required();
  show->callback([=] { exit_code() = call(*conn, "GET", "/api/v1/cases/" + *a, ""); });

  CLI::App* act =
      cases->add_subcommand("act", "办理操作，如 accept、decide / act on a case (accept, decide…)");
  add_conn_options(act, *conn);
  act->add_option("case_id", *a, "案件编号 / case id")->required();
  act->add_option("action", *b,
                  "accept|refuse|request-materials|supply|review|suspend|resume|decide|withdraw|"
                  "deliver|rate|callback|rectify")
      ->required();
  act->add_option("--body", *body, "JSON 请求体 / JSON body");
  act->callback(
      [=] { exit_code() = call(*conn, "POST", "/api/v1/cases/" + *a + "/" + *b, *body); });

  CLI::App* license =
      cases->add_subcommand("license", "下载电子证照文件 / save a case's e-license file");
  add_conn_options(license, *conn);
  license->add_option("case_id", *a, "案件编号 / case id")->required();
  license->add_option("--out", *file, "输出文件 / output file")->required();
  license->callback([=] {
    std::string out;
    exit_code() = call(*conn, "GET", "/api/v1/cases/" + *a + "/license", "", &out);
    if (exit_code() == 0) std::ofstream(*file) << out;
  });

  CLI::App* import = app.add_subcommand(
      "import-bundle",
      "把离线包导入区级中心（调度员）/ import a sealed bundle into the hub (operator)");
  add_conn_options(import, *conn);
  import->add_option("file", *file, "离线包文件 / bundle file")->required();
  import->callback([=] {
    exit_code() =
        call(*conn, "POST", "/api/v1/bundles", read_file(*file), nullptr, "application/octet-stream");
});

CLI::App* report = app.add_subcommand(
    "report",
    "生成月度监察报告 PDF（区级中心调度员、监察员）/ the hub's monthly supervision report as a PDF");
add_conn_options(report, *conn);
report->add_option("--month", *a, "月份 YYYY-MM，默认本月 / the month, default this one");
report->add_option("--out", *file, "输出的 PDF 文件 / the PDF file to write")->required();
report->callback([=] {
  std::string out;
  exit_code() = call(*conn, "GET", "/api/v1/reports/monthly.pdf" + (a->empty() ? "" : "?month=" + *a),
                     "", &out);
  if (exit_code() != 0) return;
  std::ofstream pdf(*file, std::ios::binary | std::ios::trunc);
  pdf << out;
  pdf.close();
  if (!pdf) {
    std::cerr << "tongban: 无法写入 " << *file << " / cannot write the file\n";
    exit_code() = 2;
    return;
  }
  std::cout << *file << "\n";
});

CLI::App* publish = app.add_subcommand(
    "publish-catalog",
    "发布新版事项目录到全部站点（调度员）/ publish a catalog version (operator)");
add_conn_options(publish, *conn);
publish->add_option("file", *file, "catalog.toml")->required();
publish->callback([=] {
  exit_code() = call(*conn, "POST", "/api/v1/catalog", read_file(*file), nullptr, "text/plain");
});

CLI::App* staff =
    app.add_subcommand("staff", "账号管理（站点管理员）/ staff accounts (site admin)");
staff->require_subcommand(1);
CLI::App* add = staff->add_subcommand("add", "新建工作人员账号 / create a staff account");
add_conn_options(add, *conn);
auto role = std::make_shared<std::string>();
add->add_option("--username", *a, "用户名 / username")->required();
add->add_option("--display-name", *b, "姓名 / display name")->required();
add->add_option("--role", *role, "clerk|reviewer|agent|admin")->required();
auto department = std::make_shared<std::string>();
add->add_option("--department", *department,
                "审核人员所属部门（如 民政局）/ a reviewer's department");
add->add_option("--password-env", *password_env,
                "存放初始密码的环境变量 / env var holding the password");
add->callback([=] {
  const char* pw = std::getenv(password_env->c_str());
  const std::string req = nlohmann::json{
      {"username", *a},
      {"display_name", *b},
      {"role", *role},
      {"department", *department},
      {"password",
       pw ? pw : ""}}.dump();
  exit_code() = call(*conn, "POST", "/api/v1/staff", req);
});
}  // namespace tongban::cli

}  // namespace tongban::cli
