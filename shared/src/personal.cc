#include "tongban/shared/personal.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace tongban {

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// The message types under CaseEvent that can hold a personal field at some depth, and the
// personal fields themselves: found once from the descriptors, so a walk looks only at the
// fields an event has set (ListFields) and goes down only where one can be. CaseEvent's
// oneof has dozens of members; visiting each of them, with a path built for each, was most
// of what sealing an event cost.
struct PersonalTypes {
  std::unordered_map<const google::protobuf::Descriptor*, bool> holds;
  std::unordered_set<const FieldDescriptor*> personal;

  bool may_hold(const google::protobuf::Descriptor* d) const {
    auto it = holds.find(d);
    return it == holds.end() || it->second;  // a type not under CaseEvent: look
  }
  bool is_personal(const FieldDescriptor* f) const {
    return f->cpp_type() == FieldDescriptor::CPPTYPE_STRING && !f->is_repeated() &&
           (personal.count(f) > 0 ||
            (!holds.count(f->containing_type()) && f->options().GetExtension(pb::personal)));
  }
};

bool find_personal(const google::protobuf::Descriptor* d, PersonalTypes& t) {
  if (auto it = t.holds.find(d); it != t.holds.end()) return it->second;
  t.holds[d] = true;  // while it is being looked at (a recursive type): assume it may
  bool any = false;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->message_type() != pb::Sealed::descriptor() && find_personal(f->message_type(), t))
        any = true;
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING && !f->is_repeated() &&
               f->options().GetExtension(pb::personal)) {
      t.personal.insert(f);
      any = true;
    }
  }
  t.holds[d] = any;
  return any;
}

const PersonalTypes& personal_types() {
  static const PersonalTypes types = [] {
    PersonalTypes t;
    find_personal(pb::CaseEvent::descriptor(), t);
    return t;
  }();
  return types;
}

// Calls fn(message, reflection, field, path) for every singular string field marked
// personal that is set: depth first into set sub-messages and every element of repeated
// ones. CaseEvent.sealed itself is skipped. `path` names the field by field numbers, an
// element of a repeated field by its index: "3/5/1" is submitted.applicant.name, "3/7.2/2"
// the value of submitted.form[2].
template <class Fn>
void walk(Message& m, Fn&& fn, const std::string& prefix = "") {
  const PersonalTypes& types = personal_types();
  const auto* r = m.GetReflection();
  std::vector<const FieldDescriptor*> set;
  r->ListFields(m, &set);
  for (const FieldDescriptor* f : set) {
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->message_type() == pb::Sealed::descriptor() || !types.may_hold(f->message_type()))
        continue;
      const std::string here = prefix + std::to_string(f->number());
      if (f->is_repeated()) {
        for (int j = 0; j < r->FieldSize(m, f); ++j)
          walk(*r->MutableRepeatedMessage(&m, f, j), fn, here + "." + std::to_string(j) + "/");
      } else {
        walk(*r->MutableMessage(&m, f), fn, here + "/");
      }
    } else if (types.is_personal(f)) {
      fn(m, r, f, prefix + std::to_string(f->number()));
    }
  }
}

// Puts `value` at `path` (walk's form) in `m`; false when the path names no singular
// string field of a present message here (a field this version does not know).
bool place(Message& m, std::string_view path, const std::string& value) {
  Message* at = &m;
  while (true) {
    const size_t slash = path.find('/');
    const std::string_view step = path.substr(0, slash);
    const size_t dot = step.find('.');
    int number = 0, index = -1;
    try {
      number = std::stoi(std::string(step.substr(0, dot)));
      if (dot != std::string_view::npos) index = std::stoi(std::string(step.substr(dot + 1)));
    } catch (const std::exception&) {
      return false;
    }
    const FieldDescriptor* f = at->GetDescriptor()->FindFieldByNumber(number);
    if (!f) return false;
    const auto* r = at->GetReflection();
    if (slash == std::string_view::npos) {
      if (f->cpp_type() != FieldDescriptor::CPPTYPE_STRING || f->is_repeated() || index >= 0)
        return false;
      r->SetString(at, f, value);
      return true;
    }
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) return false;
    if (f->is_repeated()) {
      if (index < 0 || index >= r->FieldSize(*at, f)) return false;
      at = r->MutableRepeatedMessage(at, f, index);
    } else {
      if (index >= 0 || !r->HasField(*at, f)) return false;
      at = r->MutableMessage(at, f);
    }
    path.remove_prefix(slash + 1);
  }
}

std::string strip(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

// Full-width ASCII (U+FF01..U+FF5E, UTF-8 EF BC 81..EF BD 9E) to ASCII.
std::string halfwidth(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0xEF && i + 2 < s.size()) {
      const auto b1 = static_cast<unsigned char>(s[i + 1]), b2 = static_cast<unsigned char>(s[i + 2]);
      const unsigned cp = 0xF000 | ((b1 & 0x3F) << 6) | (b2 & 0x3F);
      if (cp >= 0xFF01 && cp <= 0xFF5E) {
        out += static_cast<char>(cp - 0xFF01 + 0x21);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::string hex(std::string_view raw) {
  return raw.empty() ? std::string()
                     : to_hex(reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
}

}  // namespace

std::string normalise_id(std::string_view id_number) {
  std::string s = strip(halfwidth(id_number));
  for (char& c : s)
    if (c == 'x') c = 'X';
  return s;
}

std::string normalise_phone(std::string_view phone) {
  std::string digits;
  for (char c : halfwidth(phone))
    if (c >= '0' && c <= '9') digits += c;
  if (digits.size() == 13 && digits.compare(0, 2, "86") == 0) digits.erase(0, 2);
  return digits;
}

std::string blind_id(const Keyring& keys, std::string_view id_number) {
  const std::string n = normalise_id(id_number);
  return n.empty() ? std::string() : keys.blind("id:" + n);
}

std::string blind_uscc(const Keyring& keys, std::string_view uscc) {
  std::string n = strip(halfwidth(uscc));
  for (char& c : n) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return n.empty() ? std::string() : keys.blind("uscc:" + n);
}

std::string blind_phone(const Keyring& keys, std::string_view phone) {
  const std::string n = normalise_phone(phone);
  return n.empty() ? std::string() : keys.blind("phone:" + n);
}

std::string applicant_key(const pb::Applicant& a) { return hex(a.blind()); }

pb::Applicant* applicant_of(pb::CaseEvent& e) {
  switch (e.body_case()) {
    case pb::CaseEvent::kSubmitted: return e.mutable_submitted()->mutable_applicant();
    case pb::CaseEvent::kPrereviewStarted: return e.mutable_prereview_started()->mutable_applicant();
    case pb::CaseEvent::kAppointmentBooked: return e.mutable_appointment_booked()->mutable_applicant();
    default: return nullptr;
  }
}

void add_blind_indexes(pb::CaseEvent& e, const Keyring& keys) {
  pb::Applicant* a = applicant_of(e);
  if (!a) return;
  a->set_id_number(normalise_id(a->id_number()));
  a->set_blind(a->enterprise() ? blind_uscc(keys, a->uscc()) : blind_id(keys, a->id_number()));
  a->set_phone_blind(blind_phone(keys, a->phone()));
}

bool has_personal(const pb::CaseEvent& e) {
  bool any = false;
  walk(const_cast<pb::CaseEvent&>(e), [&](Message& m, const auto* r, const FieldDescriptor* f,
                                          const std::string&) {
    std::string scratch;
    any = any || !r->GetStringReference(m, f, &scratch).empty();
  });
  return any;
}

void seal_personal(pb::CaseEvent& e, const SecretKey& case_key, std::string_view stream_id,
                   const std::string& hub_key) {
  if (!has_personal(e)) return;
  pb::PersonalFields fields;
  walk(e, [&](Message& m, const auto* r, const FieldDescriptor* f, const std::string& path) {
    std::string value = r->GetString(m, f);
    if (value.empty()) return;
    pb::PersonalField* field = fields.add_fields();
    field->set_path(path);
    field->set_value(std::move(value));
    r->ClearField(&m, f);
  });
  std::string plain = fields.SerializeAsString();
  pb::Sealed* s = e.mutable_sealed();
  s->set_box(aead_seal(case_key, plain, stream_id));
  s->set_hub_key(hub_key);
  sodium_memzero(plain.data(), plain.size());
}

Status open_personal(pb::CaseEvent& e, const SecretKey& case_key, std::string_view stream_id) {
  if (!e.has_sealed()) return Status::Ok();
  auto plain = aead_open(case_key, e.sealed().box(), stream_id);
  if (!plain.ok()) return plain.status();
  pb::PersonalFields fields;
  const bool parsed = fields.ParseFromString(*plain);
  sodium_memzero(plain->data(), plain->size());
  if (!parsed) return Status::Corruption("sealed personal fields do not parse");
  // It opened whole, so each value goes straight into place (place() walks only fields the
  // event has and sets one string, or nothing). A value whose path this version does not
  // know (a field a later version added) is left out, not misplaced.
  for (const pb::PersonalField& f : fields.fields()) place(e, f.path(), f.value());
  e.clear_sealed();
  return Status::Ok();
}

namespace {
constexpr size_t kSealedEpoch = 32 + crypto_box_SEALBYTES;
constexpr size_t kEpochCacheLimit = 4096;

std::string_view key_view(const SecretKey& k) {
  return std::string_view(reinterpret_cast<const char*>(k.data()), k.size());
}

Result<SecretKey> to_secret(std::string& bytes) {
  SecretKey k;
  if (bytes.size() != k.size()) return Status::Corruption("a wrapped key is not 32 bytes");
  std::copy(bytes.begin(), bytes.end(), k.begin());
  sodium_memzero(bytes.data(), bytes.size());
  return k;
}
}  // namespace

KeyWrapper::KeyWrapper(const CurveKey& recipient)
    : epoch_(random_key()), sealed_epoch_(seal(key_view(epoch_), recipient)) {}

KeyWrapper::~KeyWrapper() { sodium_memzero(epoch_.data(), epoch_.size()); }

std::string KeyWrapper::wrap(const SecretKey& case_key, std::string_view stream_id) const {
  return sealed_epoch_ + aead_seal(epoch_, key_view(case_key), stream_id);
}

KeyUnwrapper::~KeyUnwrapper() {
  for (auto& [sealed, k] : epochs_) sodium_memzero(k.data(), k.size());
  sodium_memzero(box_.secret_key.data(), box_.secret_key.size());
}

Result<SecretKey> KeyUnwrapper::unwrap(std::string_view wrapped, std::string_view stream_id) {
  if (wrapped.size() <= kSealedEpoch) return Status::Corruption("a wrapped case key is too short");
  const std::string sealed(wrapped.substr(0, kSealedEpoch));
  auto it = epochs_.find(sealed);
  if (it == epochs_.end()) {
    auto opened = unseal(sealed, box_);
    if (!opened.ok()) return opened.status();
    auto epoch = to_secret(*opened);
    if (!epoch.ok()) return epoch.status();
    if (epochs_.size() >= kEpochCacheLimit) {
      for (auto& [s, k] : epochs_) sodium_memzero(k.data(), k.size());
      epochs_.clear();
    }
    it = epochs_.emplace(sealed, *epoch).first;
  }
  auto key = aead_open(it->second, wrapped.substr(kSealedEpoch), stream_id);
  if (!key.ok()) return key.status();
  return to_secret(*key);
}

Status HubOpener::open(pb::CaseEvent& e, const std::string& stream_id) {
  // An envelope without a copy for the hub (its box key was unknown where it was sealed), or
  // one that does not open, folds with the personal fields empty: nothing the hub decides
  // depends on them, and a site's bad envelope must not stop the hub's ingest.
  if (!e.has_sealed() || e.sealed().hub_key().empty()) return Status::Ok();
  auto k = case_key(e.sealed(), stream_id);
  if (k.ok() && open_personal(e, *k, stream_id).ok()) return Status::Ok();
  spdlog::warn("hub: the personal fields of an event of {} do not open with the hub's key",
               stream_id);
  return Status::Ok();
}

}  // namespace tongban
