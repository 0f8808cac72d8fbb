// The node's side of the hub->node stream: verified deliveries are stored in node.db with
// the hub's signature (origin "HUB><site>") and applied: a catalog version becomes
// available to new cases.
//
// Thread safety: called from the sync client's thread; takes the CaseService mutex.
#pragma once

#include "tongban/node/case_service.h"
#include "tongban/sync/sync_client.h"

namespace tongban::node {

class NodeSync final : public sync::DeliveryHandler {
 public:
  explicit NodeSync(CaseService& cases) : cases_(cases) {}
  Result<sync::ChainHead> delivered() override;
  Status apply(const sync::BatchCheck& checked) override;

 private:
  CaseService& cases_;
};

}  // namespace tongban::node
