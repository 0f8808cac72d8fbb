// The node's case service: runs every command through the pure decide/evolve core and
// commits the resulting events and projections in one durable transaction. A success
// return means the events are committed (synchronous=FULL); a failure means nothing
// was written. Also owns appointments (预约) and the supervision sweep.
//
// Thread safety: all methods are safe from any thread. The NodeStore serializes storage
// (each command runs whole inside NodeStore::write); the service's own mutex guards only
// its catalog versions and the commit callback.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tongban/node/store.h"
#include "tongban/shared/case.h"
#include "tongban/shared/clock.h"
#include "tongban/shared/config.h"
#include "tongban/shared/crypto.h"
#include "tongban/shared/staff.h"

namespace tongban::node {

struct Actor {
  std::string username;
  Role role = Role::kClerk;
  bool system = false;     // the supervision sweep
  std::string department;  // a reviewer's department (empty: all)
};

struct Slot {
  std::string time;  // HH:MM
  bool extended_hours = false;
  int capacity = 0;
  int booked = 0;
};

struct BookingInput {
  std::string item_code;
  std::string date;
  std::string slot;
  pb::Applicant applicant;
};

class CaseService {
 public:
  // Time comes from the store (NodeStore::now(): its clock, never before its newest event).
  CaseService(const District& district, const SiteConfig& site, NodeStore& store,
              const SigningKey& key);

  // Called after every commit that appended events (wakes the sync client).
  void set_on_commit(std::function<void()> fn) {
    std::lock_guard lock(mu_);
    on_commit_ = std::move(fn);
  }
  // Makes a catalog version from the hub available: new cases use the newest version,
  // older cases keep the version they were accepted under.
  void install_catalog(std::shared_ptr<const Catalog> catalog);
  // The newest catalog version in use, and whether this site accepts an item of it.
  std::shared_ptr<const Catalog> current_catalog();
  bool handles(const std::string& item_code);
  const District& district() const { return district_; }
  const SiteConfig& site() const { return site_; }
  Date today() const { return date_of(store_.now()); }

  // A new case from StartPreReview or Submit; the service assigns its id.
  Result<CaseState> create(const Command& command, const Actor& actor);
  // A command on an existing case. NotFound for an unknown case, PermissionDenied for a
  // role the command is not for or an agent acting on another agent's case.
  Result<CaseState> execute(const std::string& case_id, const Command& command, const Actor& actor);
  Result<CaseState> get(const std::string& case_id, const Actor& actor);

  // 电子材料. A file for one of the case's material entries: its type is checked by content
  // (and must agree with the declared type and the name's extension), then its
  // DocumentAttached and its sealed chunks commit together. The same file again for the
  // same entry answers the case as it is. InvalidArgument (document_*), or what the
  // command's checks answer.
  struct DocumentUpload {
    std::string material_code;
    std::string declared_type;  // the request's Content-Type ("" none)
    std::string file_name;      // "" none
    std::string content;
  };
  Result<CaseState> attach_document(const std::string& case_id, const DocumentUpload& upload,
                                    const Actor& actor);
  // A document's bytes, opened and checked against its hash; the read is recorded in the
  // case's history (DocumentViewed). NotFound document_not_found, or document_not_here
  // while the file is still on its way from the hub.
  struct DocumentFile {
    std::string mime, file_name, content;
  };
  Result<DocumentFile> read_document(const std::string& case_id, const std::string& hash_hex,
                                     const Actor& actor);
  // Narrows a case search to what `actor` may see: an agent's own cases; a departmental
  // reviewer's department's items and the bundles with a part of it (后台分类审批).
  void scope(CaseQuery& q, const Actor& actor);

  // 好差评: the resident rates, never the staff. A clerk (or an agent, for their own case)
  // asks for a one-time ticket once the case is decided, refused or delivered; the token is
  // shown on the rating pad or printed as a QR code; the resident's rating with it is the
  // only way a case is rated, once.
  static constexpr Timestamp kRatingTicketSeconds = 15 * 24 * 3600;
  struct IssuedTicket {
    std::string token;  // given once: only its hash is kept
    Timestamp expires_at = 0;
  };
  // `window`: the window (窗口号) the resident was served at, 1-99 (0: not given), carried
  // into the rating so rankings can go by window.
  Result<IssuedTicket> issue_rating_ticket(const std::string& case_id, const Actor& actor,
                                           int window = 0);
  // The case a live ticket rates (what the pad shows), or NotFound.
  Result<CaseState> ticket_case(const std::string& token);
  Result<CaseState> rate_with_ticket(const std::string& token, Rate rate);
  // Bulk import: each script is the commands of one new case (the first creates it), each
  // with its actor. All scripts commit in one transaction, or none does. Returns the ids.
  using Script = std::vector<std::pair<Actor, Command>>;
  Result<std::vector<std::string>> bulk_create(const std::vector<Script>& scripts);
  Result<std::vector<sync::Event>> events(const std::string& case_id, const Actor& actor);

  // Runs the supervision sweep (deemed acceptance, 容缺 deadlines) on every due case;
  // returns how many cases changed.
  Result<int> sweep();

  Result<std::vector<Slot>> slots(Date date);
  Result<Appointment> book(const BookingInput& input, const Actor& actor);
  Result<Appointment> check_in(const std::string& appointment_id, const Actor& actor);
  Result<Appointment> cancel(const std::string& appointment_id, const Actor& actor);

 private:
  using Catalogs = std::map<int, std::shared_ptr<const Catalog>>;  // by version
  struct Outcome {
    CaseState state;
    uint64_t appended = 0;  // events committed
  };
  // Runs one command on the case `case_id` (a new case when `create`) in its own write;
  // `also` (if set) runs in the same transaction after the command, and its failure undoes
  // the command (a rating ticket is spent with the rating it gave).
  Result<Outcome> run(const std::string& case_id, const Command& command, const Actor& actor,
                      bool create,
                      const std::function<Status(NodeStore::Writer&)>& also = nullptr);
  // Decides and appends (with projections) inside `writer`; write() commits.
  Result<CaseState> apply(NodeStore::Writer& writer, const Catalogs& catalogs, CaseState state,
                          const Command& command, const Actor& actor, bool create);
  // Appends one appointment event to a booked appointment, after `check` on it passes.
  Result<Appointment> change_appointment(
      const std::string& id, pb::CaseEvent event, const Actor& actor,
      const std::function<Status(const Appointment&, Date today)>& check);

  Catalogs catalogs();
  void committed();

  const District& district_;
  Catalogs catalogs_;  // guarded by mu_
  std::function<void()> on_commit_;  // guarded by mu_
  const SiteConfig& site_;
  NodeStore& store_;
  const SigningKey& key_;
  std::mutex mu_;
};

// Which roles may issue a command (the system actor runs only the sweep).
bool role_may(Role role, const Command& command);

}  // namespace tongban::node
