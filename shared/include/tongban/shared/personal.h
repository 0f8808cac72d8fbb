// Residents' personal data in case events: the fields events.proto marks
// [(personal) = true] travel and rest sealed under the case key, and the applicant is
// found by blind index, never by the number itself.
//
// A node seals every event it appends (NodeStore::Writer::append): the personal fields
// move into CaseEvent.sealed and the signed body holds only ciphertext of them. Whoever
// holds the case key opens them again before folding: the case's sites (their case keys
// table, sealed under their data key) and the hub (the key sealed to its box key in every
// envelope). Without a key an event folds with those fields empty: every rule that the hub
// runs unaided (clocks, ownership, dispatch, duplicates by blind index) needs none of them.
//
// Thread safety: pure functions; an EventOpener is used by one thread at a time.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "tongban/shared/crypto.h"
#include "tongban/shared/keyring.h"
#include "events.pb.h"

namespace tongban {

// The same person, however typed: ASCII spaces trimmed, a lowercase check character x
// made X (GB 11643), full-width digits and X made ASCII.
std::string normalise_id(std::string_view id_number);
// Digits only; a leading +86 / 86 country code on a 13-digit number dropped.
std::string normalise_phone(std::string_view phone);
// The blind index a query or a district list uses for an ID number, a USCC or a phone
// (raw 16 bytes; hex where it is text). Empty input gives empty output.
std::string blind_id(const Keyring& keys, std::string_view id_number);
std::string blind_uscc(const Keyring& keys, std::string_view uscc);
std::string blind_phone(const Keyring& keys, std::string_view phone);
// The applicant's identity key as the case index and the district lists hold it: the hex
// blind index of the ID number (an enterprise: its USCC).
std::string applicant_key(const pb::Applicant& a);

// The applicant an event carries (Submitted, PreReviewStarted, AppointmentBooked), or null.
pb::Applicant* applicant_of(pb::CaseEvent& e);
// Normalises the applicant's ID number and sets its blind indexes.
void add_blind_indexes(pb::CaseEvent& e, const Keyring& keys);

// Whether any personal field of the event is set.
bool has_personal(const pb::CaseEvent& e);
// Moves every personal field into e.sealed (nothing when none is set). `stream_id` (the
// case or appointment id) is bound as associated data; `hub_key` is the case key sealed to
// the hub.
void seal_personal(pb::CaseEvent& e, const SecretKey& case_key, std::string_view stream_id,
                   const std::string& hub_key);
// Puts them back and clears e.sealed; Corruption when the envelope does not open with this
// key or does not fit the event.
Status open_personal(pb::CaseEvent& e, const SecretKey& case_key, std::string_view stream_id);

// A case key given to the holder of a box key (the hub, or a site a case is handed to):
//   epoch key sealed to the box key (crypto_box_seal, 80 bytes)
//   ‖ nonce ‖ XChaCha20-Poly1305(epoch key, case key, ad = stream id) ‖ tag (72 bytes).
// The epoch key is random per KeyWrapper (a daemon's run), so the costly X25519 seal is paid
// once per run, not once per case; the recipient opens each epoch once (KeyUnwrapper).
class KeyWrapper {
 public:
  explicit KeyWrapper(const CurveKey& recipient);
  ~KeyWrapper();
  KeyWrapper(const KeyWrapper&) = delete;
  KeyWrapper& operator=(const KeyWrapper&) = delete;
  std::string wrap(const SecretKey& case_key, std::string_view stream_id) const;

 private:
  SecretKey epoch_{};
  std::string sealed_epoch_;
};

// Opens wrapped case keys with a box keypair, each epoch's X25519 open done once (a
// bounded cache of epoch keys). Not thread-safe.
class KeyUnwrapper {
 public:
  explicit KeyUnwrapper(const CurveKeypair& box) : box_(box) {}
  ~KeyUnwrapper();
  KeyUnwrapper(const KeyUnwrapper&) = delete;
  KeyUnwrapper& operator=(const KeyUnwrapper&) = delete;
  // Corruption when it was not wrapped for this box key, for this stream, or was altered.
  Result<SecretKey> unwrap(std::string_view wrapped, std::string_view stream_id);

 private:
  CurveKeypair box_;
  std::map<std::string, SecretKey> epochs_;
};

// Opens the personal part of events as they are folded.
class EventOpener {
 public:
  virtual ~EventOpener() = default;
  virtual Status open(pb::CaseEvent& e, const std::string& stream_id) = 0;
};

// The hub's: each case key from the envelope's hub_key, opened with the hub's box key
// through `unwrapper` (which outlives the opener).
class HubOpener : public EventOpener {
 public:
  explicit HubOpener(KeyUnwrapper& unwrapper) : unwrapper_(unwrapper) {}
  Status open(pb::CaseEvent& e, const std::string& stream_id) override;
  // The case key of a sealed event.
  Result<SecretKey> case_key(const pb::Sealed& sealed, const std::string& stream_id) {
    return unwrapper_.unwrap(sealed.hub_key(), stream_id);
  }

 private:
  KeyUnwrapper& unwrapper_;
};

}  // namespace tongban
