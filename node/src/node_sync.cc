#include "tongban/node/node_sync.h"

#include <spdlog/spdlog.h>

#include "wire.pb.h"

namespace tongban::node {

Result<sync::ChainHead> NodeSync::delivered() { return store_.delivered(); }

Status NodeSync::apply(const sync::BatchCheck& checked) {
  std::vector<std::pair<int, std::string>> versions;
  std::vector<std::shared_ptr<const Catalog>> catalogs;
  for (const sync::Event& e : checked.fresh) {
    if (e.kind != "hub.catalog_version") continue;
    pb::CatalogVersion v;
    if (!v.ParseFromString(e.body)) return Status::Corruption("catalog version does not parse");
    auto catalog = parse_catalog(v.catalog_toml());
    if (!catalog.ok()) return catalog.status();
    catalogs.push_back(std::make_shared<const Catalog>(std::move(*catalog)));
    versions.emplace_back(v.version(), v.catalog_toml());
  }
  TB_RETURN_IF_ERROR(store_.apply_delivery(checked, versions));
  for (auto& c : catalogs) {
    spdlog::info("catalog version {} received from the hub", c->version());
    cases_.install_catalog(std::move(c));
  }
  return Status::Ok();
}

}  // namespace tongban::node
