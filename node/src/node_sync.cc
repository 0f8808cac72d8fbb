#include "tongban/node/node_sync.h"

#include <spdlog/spdlog.h>

#include "tongban/sync/replica.h"
#include "wire.pb.h"

namespace tongban::node {

Result<sync::ChainHead> NodeSync::delivered() {
  std::lock_guard lock(cases_.mutex());
  return sync::Replica(cases_.store().db()).head(sync::stream_origin(cases_.site().id));
}

Status NodeSync::apply(const sync::BatchCheck& checked) {
  std::lock_guard lock(cases_.mutex());
  NodeStore& store = cases_.store();
  std::vector<std::shared_ptr<const Catalog>> catalogs;
  for (const sync::Event& e : checked.fresh) {
    if (e.kind != "hub.catalog_version") continue;
    pb::CatalogVersion v;
    if (!v.ParseFromString(e.body)) return Status::Corruption("catalog version does not parse");
    auto catalog = parse_catalog(v.catalog_toml());
    if (!catalog.ok()) return catalog.status();
    catalogs.push_back(std::make_shared<const Catalog>(std::move(*catalog)));
  }
  Transaction tx(store.db());
  TB_RETURN_IF_ERROR(tx.begun());
  TB_RETURN_IF_ERROR(sync::Replica(store.db()).append(checked.fresh, checked.signature));
  for (const sync::Event& e : checked.fresh) {
    if (e.kind != "hub.catalog_version") continue;
    pb::CatalogVersion v;
    v.ParseFromString(e.body);
    TB_RETURN_IF_ERROR(store.save_catalog_version(v.version(), v.catalog_toml()));
  }
  TB_RETURN_IF_ERROR(tx.commit());
  store.log().observe(checked.fresh.back().lamport);
  for (auto& c : catalogs) {
    spdlog::info("catalog version {} received from the hub", c->version());
    cases_.install_catalog(std::move(c));
  }
  return Status::Ok();
}

}  // namespace tongban::node
