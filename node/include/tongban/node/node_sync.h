// The node's side of the hub->node stream: verified deliveries are stored in node.db with
// the hub's signature (origin "HUB><site>") and applied: a catalog version becomes
// available to new cases.
//
// Thread safety: prepare from the sync client's socket thread, apply from its apply
// thread, import_bundle from any; the store and the case service lock for themselves,
// and prepare's key unwrapper has its own lock.
#pragma once

#include <mutex>
#include <optional>

#include "tongban/node/case_service.h"
#include "tongban/sync/sync_client.h"

namespace tongban::node {

// A `hub.case_events` stream event's body (跨区通办: a case's events the hub sends): each
// event must be of that case, of a site or the hub, and hash to what it claims; this node's
// own events are left out (its log holds them). Corruption otherwise. Sorted as replayed.
Result<NodeStore::DeliveredCase> parse_case_events(const sync::Event& stream_event,
                                                   const District& district,
                                                   const std::string& me);

class NodeSync final : public sync::DeliveryHandler {
 public:
  NodeSync(NodeStore& store, CaseService& cases);
  // Parses what the stream events carry (catalog versions, broken commitments, cases'
  // histories) and prepares each case off the store's lock (NodeStore::prepare_delivered).
  Result<std::unique_ptr<sync::PreparedDelivery>> prepare(const sync::BatchCheck& checked) override;
  Status apply(const sync::BatchCheck& checked, sync::PreparedDelivery& prepared) override;

  // A sealed hub bundle (tongban export-bundle --hub --site <this site>): opened with the
  // site key, its run of this node's stream checked like a live delivery (the hub's
  // signature, the chain from what was applied) and applied exactly once. Returns how many
  // stream events were new.
  Result<uint64_t> import_bundle(const std::string& sealed, const SigningKey& site_key,
                                 const PublicKey& hub_key);

 private:
  struct Prepared;
  NodeStore& store_;
  CaseService& cases_;
  std::mutex unwrap_mu_;
  std::optional<KeyUnwrapper> unwrapper_;  // guarded by unwrap_mu_ (absent without a keyring)
};

// The node's documents on the link (sync/doc_transfer.h): it gives the hub any document it
// holds and fetches, from the hub, the documents of the cases it holds that are not here
// (files attached at another site of a case handed here, its own after a restore).
class NodeDocuments final : public sync::DocumentHandler {
 public:
  explicit NodeDocuments(NodeStore& store) : store_(store) {}
  Result<std::optional<std::string>> chunk_for(const std::string& peer,
                                               const std::string& case_id, const Hash32& hash,
                                               uint32_t index) override;
  Result<std::vector<StoredDocument>> wanted_from(const std::string& peer, size_t max) override;
  Result<DocumentStore::Put> put(const std::string& case_id, const Hash32& hash, uint32_t index,
                                 const std::string& sealed) override;
  Status defer(const std::string& case_id, const Hash32& hash, int seconds) override;

 private:
  NodeStore& store_;
};

}  // namespace tongban::node
