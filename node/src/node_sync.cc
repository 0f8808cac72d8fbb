#include "tongban/node/node_sync.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "tongban/sync/batch.h"
#include "tongban/sync/transport.h"
#include "wire.pb.h"

namespace tongban::node {

// The run itself is signed by the hub and chain-checked before this.
Result<NodeStore::DeliveredCase> parse_case_events(const sync::Event& stream_event,
                                                   const District& district,
                                                   const std::string& me) {
  pb::CaseEvents body;
  if (!body.ParseFromString(stream_event.body) || !valid_case_id(body.case_id()))
    return Status::Corruption("case events from the hub do not parse");
  NodeStore::DeliveredCase out;
  out.case_id = body.case_id();
  out.case_key = body.case_key();
  for (const pb::WireEvent& w : body.events()) {
    sync::Event e;
    if (!sync::from_wire(w, e) || e.case_id != out.case_id ||
        (e.origin != district.hub_id && !district.site(e.origin)) || e.seq == 0 ||
        sync::compute_event_hash(e) != e.hash)
      return Status::Corruption("case events from the hub for " + out.case_id +
                                " hold an event that does not check (" + e.origin + " seq " +
                                std::to_string(e.seq) + ")");
    if (e.origin == me) continue;  // this node's own events are in its log already
    out.events.push_back(std::move(e));
  }
  sync::sort_in_case_order(out.events);  // replayed in the order every side uses
  return out;
}

struct NodeSync::Prepared final : sync::PreparedDelivery {
  std::vector<std::pair<int, std::string>> versions;
  std::vector<std::shared_ptr<const Catalog>> catalogs;
  std::vector<NodeStore::DeliveredCase> cases;
  std::vector<NodeStore::BrokenCommitment> broken;
  ~Prepared() override {
    for (auto& c : cases)
      if (c.key) sodium_memzero(c.key->data(), c.key->size());
  }
};

NodeSync::NodeSync(NodeStore& store, CaseService& cases) : store_(store), cases_(cases) {
  if (const Keyring* keys = store_.keyring()) unwrapper_.emplace(keys->box());
}

Result<std::unique_ptr<sync::PreparedDelivery>> NodeSync::prepare(
    const sync::BatchCheck& checked) {
  auto out = std::make_unique<Prepared>();
  // A DeliveredCase is large (a folded CaseState): never moved by the vector's growth.
  out->cases.reserve(static_cast<size_t>(
      std::count_if(checked.fresh.begin(), checked.fresh.end(),
                    [](const sync::Event& e) { return e.kind == "hub.case_events"; })));
  for (const sync::Event& e : checked.fresh) {
    if (e.kind == "hub.broken_commitment") {
      pb::BrokenCommitment b;
      if (!b.ParseFromString(e.body) || !valid_case_id(b.case_id()))
        return Status::Corruption("broken commitment from the hub does not parse");
      out->broken.push_back({b.applicant_id(), b.case_id()});
      continue;
    }
    if (e.kind == "hub.case_events") {
      auto c = parse_case_events(e, cases_.district(), cases_.site().id);
      if (!c.ok()) return c.status();
      out->cases.push_back(std::move(*c));
      continue;
    }
    if (e.kind != "hub.catalog_version") continue;
    pb::CatalogVersion v;
    if (!v.ParseFromString(e.body)) return Status::Corruption("catalog version does not parse");
    auto catalog = parse_catalog(v.catalog_toml());
    if (!catalog.ok()) return catalog.status();
    out->catalogs.push_back(std::make_shared<const Catalog>(std::move(*catalog)));
    out->versions.emplace_back(v.version(), v.catalog_toml());
  }
  if (unwrapper_) {
    std::lock_guard lock(unwrap_mu_);
    for (NodeStore::DeliveredCase& c : out->cases) store_.prepare_delivered(c, *unwrapper_);
  }
  return std::unique_ptr<sync::PreparedDelivery>(std::move(out));
}

Status NodeSync::apply(const sync::BatchCheck& checked, sync::PreparedDelivery& prepared) {
  auto& p = static_cast<Prepared&>(prepared);
  TB_RETURN_IF_ERROR(store_.apply_delivery(checked, p.versions, p.cases, p.broken));
  for (auto& c : p.catalogs) {
    spdlog::info("catalog version {} received from the hub", c->version());
    cases_.install_catalog(std::move(c));
  }
  for (const auto& c : p.cases)
    spdlog::info("case {}: {} events of other sites received from the hub", c.case_id,
                 c.events.size());
  return Status::Ok();
}

Result<uint64_t> NodeSync::import_bundle(const std::string& sealed, const SigningKey& site_key,
                                         const PublicKey& hub_key) {
  auto opened = unseal(sealed, site_key.curve_keypair());
  if (!opened.ok())
    return Status::InvalidArgument("invalid_bundle",
                                   "离线包无法解密：不是发给本站点的或已损坏",
                                   "the bundle does not open with this site's key");
  pb::Bundle bundle;
  if (!bundle.ParseFromString(*opened) || bundle.batch().events_size() == 0)
    return Status::InvalidArgument("invalid_bundle", "离线包格式错误", "the bundle does not parse");
  const std::string stream = sync::stream_origin(cases_.site().id);
  if (bundle.batch().origin() != stream)
    return Status::Rejected("wrong_bundle", "该离线包不是区级中心发给本站点的",
                            "the bundle is not the hub's stream to this site");
  auto have = store_.delivered();
  if (!have.ok()) return have.status();
  const sync::BatchCheck check = sync::check_batch(
      bundle.batch(), *have, hub_key, [&](uint64_t seq) { return store_.delivered_hash(seq); });
  if (!check.ok()) {
    if (check.error == pb::Error::GAP)
      return Status::Conflict("bundle_gap", "离线包与本站已有数据不衔接，请先导入更早的离线包",
                              "the bundle starts after seq " +
                                  std::to_string(check.expected_seq) +
                                  ": import the earlier bundle first");
    return Status::Rejected("bundle_rejected", "离线包校验失败（签名或哈希链不符）",
                            "bundle refused: " + check.message);
  }
  if (check.fresh.empty()) return uint64_t{0};  // applied before: exactly once
  auto prepared = prepare(check);
  if (!prepared.ok()) return prepared.status();
  TB_RETURN_IF_ERROR(apply(check, **prepared));
  return static_cast<uint64_t>(check.fresh.size());
}

Result<std::optional<std::string>> NodeDocuments::chunk_for(const std::string&,
                                                            const std::string& case_id,
                                                            const Hash32& hash, uint32_t index) {
  return store_.document_chunk(case_id, hash, index);  // the hub is the only peer
}

Result<std::vector<StoredDocument>> NodeDocuments::wanted_from(const std::string&, size_t max) {
  return store_.documents_wanted(max);
}

Result<DocumentStore::Put> NodeDocuments::put(const std::string& case_id, const Hash32& hash,
                                              uint32_t index, const std::string& sealed) {
  return store_.put_document_chunk(case_id, hash, index, sealed);
}

Status NodeDocuments::defer(const std::string& case_id, const Hash32& hash, int seconds) {
  return store_.defer_document(case_id, hash, store_.now() + seconds);
}

}  // namespace tongban::node
