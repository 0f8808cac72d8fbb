#include "tongban/shared/documents.h"

#include <algorithm>
#include <cctype>

namespace tongban {

namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// The last `n` bytes of `s` (all of it when shorter).
std::string_view tail(std::string_view s, size_t n) {
  return s.size() <= n ? s : s.substr(s.size() - n);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The type of the content, or "" when it is none of the three (or cut short: each format's
// end marker must be there, so a truncated upload is not taken for a file).
std::string content_type(std::string_view c) {
  if (starts_with(c, "%PDF-") && tail(c, 1024).find("%%EOF") != std::string_view::npos)
    return "application/pdf";
  static constexpr std::string_view kPng("\x89PNG\r\n\x1a\n", 8);
  if (starts_with(c, kPng) && c.size() >= 8 + 25 + 12 && c.substr(12, 4) == "IHDR" &&
      tail(c, 12).substr(4, 4) == "IEND")
    return "image/png";
  static constexpr std::string_view kJpeg("\xff\xd8\xff", 3);
  if (starts_with(c, kJpeg) && tail(c, 1024).find("\xff\xd9") != std::string_view::npos)
    return "image/jpeg";
  return "";
}

// The type a name's extension claims, "" for none or one we do not know.
std::string extension_type(std::string_view name) {
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return "";
  const std::string ext = lower(name.substr(dot + 1));
  if (ext == "pdf") return "application/pdf";
  if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
  if (ext == "png") return "image/png";
  return "?";
}

const char* label_of(const std::string& mime) {
  if (mime == "application/pdf") return "PDF";
  if (mime == "image/jpeg") return "JPEG";
  if (mime == "image/png") return "PNG";
  return "?";
}

std::string chunk_ad(std::string_view case_id, const Hash32& hash, uint32_t index) {
  std::string ad = "tongban-doc-v1|";
  ad.append(case_id);
  ad += '|';
  ad += to_hex(hash);
  ad += '|';
  ad += std::to_string(index);
  return ad;
}

StoredDocument row_of(const Stmt& s) {
  StoredDocument d;
  d.case_id = s.text_at(0);
  const std::string h = s.blob_at(1);
  if (h.size() == d.hash.size()) std::copy(h.begin(), h.end(), d.hash.begin());
  d.material_code = s.text_at(2);
  d.mime = s.text_at(3);
  d.size = static_cast<uint64_t>(s.int_at(4));
  d.source = s.text_at(5);
  d.have = static_cast<uint32_t>(s.int_at(6));
  d.state = static_cast<StoredDocument::State>(s.int_at(7));
  d.chunks = doc_chunk_count(d.size);
  return d;
}

constexpr const char* kColumns = "case_id, hash, material, mime, size, source, have, state";

}  // namespace

Result<std::string> sniff_document(std::string_view content, std::string_view declared,
                                   std::string_view file_name) {
  if (content.empty())
    return Status::InvalidArgument("document_empty", "上传的文件为空", "the file is empty");
  if (content.size() > kMaxDocumentBytes)
    return Status::InvalidArgument("document_too_large", "材料文件不能超过 20 MiB",
                                   "a document may not exceed 20 MiB");
  const std::string type = content_type(content);
  if (type.empty())
    return Status::InvalidArgument("document_type_unsupported",
                                   "仅接受完整的 PDF、JPEG、PNG 文件（按内容识别）",
                                   "only complete PDF, JPEG and PNG files are accepted "
                                   "(recognised by content)");
  std::string claimed = lower(declared.substr(0, declared.find(';')));
  while (!claimed.empty() && claimed.back() == ' ') claimed.pop_back();
  if (claimed == "image/jpg" || claimed == "image/pjpeg") claimed = "image/jpeg";
  const bool says_nothing = claimed.empty() || claimed == "application/octet-stream";
  const std::string by_name = extension_type(file_name);
  const std::string& liar = !says_nothing && claimed != type ? claimed : by_name;
  if ((!says_nothing && claimed != type) || (!by_name.empty() && by_name != type))
    return Status::InvalidArgument(
        "document_type_mismatch",
        std::string("文件内容是 ") + label_of(type) + "，与声明的类型不符（" + liar + "）",
        "the file's content is " + type + ", not what it claims to be (" + liar + ")");
  return type;
}

Hash32 document_hash(std::string_view content) { return Hasher().update(content).finish(); }

uint32_t doc_chunk_count(uint64_t size) {
  return static_cast<uint32_t>((size + kDocChunkBytes - 1) / kDocChunkBytes);
}

size_t doc_chunk_plain_bytes(uint64_t size, uint32_t index) {
  const uint64_t start = uint64_t{index} * kDocChunkBytes;
  if (start >= size) return 0;
  return static_cast<size_t>(std::min<uint64_t>(kDocChunkBytes, size - start));
}

std::string seal_doc_chunk(const SecretKey& case_key, std::string_view case_id,
                           const Hash32& hash, uint32_t index, std::string_view plain) {
  return aead_seal(case_key, plain, chunk_ad(case_id, hash, index));
}

Result<std::string> open_doc_chunk(const SecretKey& case_key, std::string_view case_id,
                                   const Hash32& hash, uint32_t index, std::string_view sealed) {
  return aead_open(case_key, sealed, chunk_ad(case_id, hash, index));
}

std::vector<std::string> seal_document(const SecretKey& case_key, std::string_view case_id,
                                       const Hash32& hash, std::string_view content) {
  std::vector<std::string> out;
  const uint32_t n = doc_chunk_count(content.size());
  out.reserve(n);
  for (uint32_t i = 0; i < n; ++i)
    out.push_back(seal_doc_chunk(case_key, case_id, hash, i,
                                 content.substr(size_t{i} * kDocChunkBytes, kDocChunkBytes)));
  return out;
}

const char* to_string(StoredDocument::State s) {
  switch (s) {
    case StoredDocument::State::kFetching: return "fetching";
    case StoredDocument::State::kComplete: return "complete";
    case StoredDocument::State::kRejected: return "rejected";
  }
  return "?";
}

const std::string& DocumentStore::schema() {
  // Chunks are up to 1 MiB: a rowid table (WITHOUT ROWID suits small rows only).
  static const std::string s = R"(
    CREATE TABLE documents(
      case_id TEXT NOT NULL, hash BLOB NOT NULL, material TEXT NOT NULL, mime TEXT NOT NULL,
      size INTEGER NOT NULL, source TEXT NOT NULL,
      have INTEGER NOT NULL DEFAULT 0, state INTEGER NOT NULL DEFAULT 0,
      retry_ts INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY(case_id, hash)) WITHOUT ROWID;
    CREATE INDEX documents_wanted ON documents(source, retry_ts) WHERE state = 0;
    CREATE TABLE doc_chunks(case_id TEXT NOT NULL, hash BLOB NOT NULL, idx INTEGER NOT NULL,
      data BLOB NOT NULL);
    CREATE UNIQUE INDEX doc_chunks_key ON doc_chunks(case_id, hash, idx);
  )";
  return s;
}

Status DocumentStore::note(const std::string& case_id, const std::string& source,
                           const pb::CaseEvent& e) {
  if (!e.has_document_attached()) return Status::Ok();
  const pb::DocumentAttached& d = e.document_attached();
  if (d.hash().size() != sizeof(Hash32) || d.size() == 0 || d.size() > kMaxDocumentBytes)
    return Status::Ok();  // decide never writes one; a foreign log's oddity is not fetched
  auto stmt = db_.cached(
      "INSERT OR IGNORE INTO documents(case_id, hash, material, mime, size, source)"
      " VALUES(?1,?2,?3,?4,?5,?6)");
  if (!stmt.ok()) return stmt.status();
  return stmt->bind(1, case_id)
      .bind_blob(2, d.hash().data(), d.hash().size())
      .bind(3, d.material_code())
      .bind(4, d.mime())
      .bind(5, static_cast<int64_t>(d.size()))
      .bind(6, source)
      .run();
}

Status DocumentStore::note_stored(const std::string& case_id, const std::string& source,
                                  const std::string& kind, const std::string& body) {
  if (kind != "case.document_attached") return Status::Ok();
  pb::CaseEvent e;
  if (!e.ParseFromString(body)) return Status::Corruption("event body does not parse");
  return note(case_id, source, e);
}

Status DocumentStore::set_progress(const std::string& case_id, const Hash32& hash,
                                   uint32_t have, StoredDocument::State state) {
  auto stmt = db_.cached("UPDATE documents SET have=?3, state=?4 WHERE case_id=?1 AND hash=?2");
  if (!stmt.ok()) return stmt.status();
  return stmt->bind(1, case_id)
      .bind_blob(2, hash.data(), hash.size())
      .bind(3, static_cast<int64_t>(have))
      .bind(4, static_cast<int64_t>(state))
      .run();
}

Status DocumentStore::put_all(const std::string& case_id, const Hash32& hash,
                              const std::vector<std::string>& sealed) {
  auto doc = get(case_id, hash);
  if (!doc.ok()) return doc.status();
  if (!*doc) return Status::Internal("document stored before its event");
  if ((*doc)->state == StoredDocument::State::kComplete) return Status::Ok();
  if (sealed.size() != (*doc)->chunks) return Status::Internal("document chunk count");
  auto ins = db_.cached(
      "INSERT OR REPLACE INTO doc_chunks(case_id, hash, idx, data) VALUES(?1,?2,?3,?4)");
  if (!ins.ok()) return ins.status();
  for (uint32_t i = 0; i < sealed.size(); ++i)
    TB_RETURN_IF_ERROR(ins->bind(1, case_id)
                           .bind_blob(2, hash.data(), hash.size())
                           .bind(3, static_cast<int64_t>(i))
                           .bind_borrowed_blob(4, sealed[i].data(), sealed[i].size())
                           .run());
  return set_progress(case_id, hash, (*doc)->chunks, StoredDocument::State::kComplete);
}

Result<DocumentStore::Put> DocumentStore::put_chunk(const std::string& case_id,
                                                    const Hash32& hash, uint32_t index,
                                                    const std::string& sealed,
                                                    const SecretKey* key) {
  auto doc = get(case_id, hash);
  if (!doc.ok()) return doc.status();
  if (!*doc)
    return Status::NotFound("document_not_found", "没有事件记载此材料文件",
                            "no event names this document");
  const StoredDocument& d = **doc;
  if (d.state == StoredDocument::State::kComplete) return Put::kDuplicate;
  if (d.state == StoredDocument::State::kRejected || index != d.have)
    return Status::InvalidArgument(
        "chunk_out_of_order",
        "材料分块顺序错误：应为第 " + std::to_string(d.have) + " 块，收到第 " +
            std::to_string(index) + " 块",
        "chunk " + std::to_string(index) + " out of order: expected " + std::to_string(d.have));
  if (sealed.size() != doc_chunk_plain_bytes(d.size, index) + kSealedChunkOverhead)
    return Status::InvalidArgument("chunk_size", "材料分块长度不符",
                                   "chunk " + std::to_string(index) + " has the wrong length");
  std::optional<std::string> plain;
  if (key) {
    auto opened = open_doc_chunk(*key, case_id, hash, index, sealed);
    if (!opened.ok())
      return Status::InvalidArgument("chunk_does_not_open", "材料分块无法用本案密钥打开（被篡改）",
                                     "chunk " + std::to_string(index) +
                                         " does not open with the case key (altered)");
    plain = std::move(*opened);
  }
  auto ins = db_.cached(
      "INSERT OR REPLACE INTO doc_chunks(case_id, hash, idx, data) VALUES(?1,?2,?3,?4)");
  if (!ins.ok()) return ins.status();
  TB_RETURN_IF_ERROR(ins->bind(1, case_id)
                         .bind_blob(2, hash.data(), hash.size())
                         .bind(3, static_cast<int64_t>(index))
                         .bind_borrowed_blob(4, sealed.data(), sealed.size())
                         .run());
  const uint32_t have = index + 1;
  // The running hash (kept only for chunks that arrive from 0 on, in this process).
  const auto slot = std::make_pair(case_id, hash);
  std::optional<bool> whole_matches;
  if (plain) {
    if (index == 0) {
      if (partial_.size() >= 64) partial_.clear();  // bounded: the rest are read back
      partial_[slot] = Partial{};
    }
    auto it = partial_.find(slot);
    if (it != partial_.end() && it->second.next == index) {
      it->second.hasher.update(*plain);
      it->second.next = have;
      if (have == d.chunks) {
        whole_matches = it->second.hasher.finish() == hash;
        partial_.erase(it);
      }
    }
  }
  if (have < d.chunks) {
    TB_RETURN_IF_ERROR(set_progress(case_id, hash, have, StoredDocument::State::kFetching));
    return Put::kStored;
  }
  partial_.erase(slot);
  TB_RETURN_IF_ERROR(set_progress(case_id, hash, have, StoredDocument::State::kComplete));
  if (key && !whole_matches) {
    auto whole = read(case_id, hash, *key);
    // Only a file that does not check is rejected; a failing read is an error to retry.
    if (!whole.ok() && whole.status().code() != StatusCode::kCorruption) return whole.status();
    whole_matches = whole.ok();
  }
  if (key && !*whole_matches) {  // the whole does not match its hash
    auto drop = db_.cached("DELETE FROM doc_chunks WHERE case_id=?1 AND hash=?2");
    if (!drop.ok()) return drop.status();
    TB_RETURN_IF_ERROR(drop->bind(1, case_id).bind_blob(2, hash.data(), hash.size()).run());
    TB_RETURN_IF_ERROR(set_progress(case_id, hash, 0, StoredDocument::State::kRejected));
    return Put::kRejected;
  }
  return Put::kComplete;
}

void DocumentStore::forget_progress(const std::string& case_id, const Hash32& hash) {
  partial_.erase(std::make_pair(case_id, hash));
}

Status DocumentStore::defer(const std::string& case_id, const Hash32& hash, Timestamp until) {
  auto stmt = db_.cached("UPDATE documents SET retry_ts=?3 WHERE case_id=?1 AND hash=?2");
  if (!stmt.ok()) return stmt.status();
  return stmt->bind(1, case_id).bind_blob(2, hash.data(), hash.size()).bind(3, until).run();
}

Result<std::optional<StoredDocument>> DocumentStore::get(const std::string& case_id,
                                                         const Hash32& hash) {
  auto stmt = db_.cached(std::string("SELECT ") + kColumns +
                         " FROM documents WHERE case_id=?1 AND hash=?2");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, case_id).bind_blob(2, hash.data(), hash.size());
  auto row = stmt->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<StoredDocument>{};
  return std::optional<StoredDocument>{row_of(*stmt)};
}

Result<std::vector<StoredDocument>> DocumentStore::of_case(const std::string& case_id) {
  auto stmt =
      db_.cached(std::string("SELECT ") + kColumns + " FROM documents WHERE case_id=?1");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, case_id);
  return collect_rows<StoredDocument>(*stmt, row_of);
}

Result<std::vector<StoredDocument>> DocumentStore::wanted(const std::string& source,
                                                          Timestamp now, size_t max) {
  auto stmt = db_.cached(std::string("SELECT ") + kColumns +
                         " FROM documents WHERE state=0 AND (?1='' OR source=?1)"
                         " AND retry_ts<=?2 LIMIT ?3");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, source).bind(2, now).bind(3, static_cast<int64_t>(max));
  return collect_rows<StoredDocument>(*stmt, row_of);
}

Result<std::optional<std::string>> DocumentStore::chunk(const std::string& case_id,
                                                        const Hash32& hash, uint32_t index) {
  auto stmt =
      db_.cached("SELECT data FROM doc_chunks WHERE case_id=?1 AND hash=?2 AND idx=?3");
  if (!stmt.ok()) return stmt.status();
  stmt->bind(1, case_id).bind_blob(2, hash.data(), hash.size()).bind(3, int64_t{index});
  auto row = stmt->step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<std::string>{};
  return std::optional<std::string>{stmt->blob_at(0)};
}

Result<std::string> DocumentStore::read(const std::string& case_id, const Hash32& hash,
                                        const SecretKey& key) {
  auto doc = get(case_id, hash);
  if (!doc.ok()) return doc.status();
  if (!*doc || (*doc)->state != StoredDocument::State::kComplete)
    return Status::NotFound("document_not_here", "材料文件尚未传到本站，请稍后再试",
                            "the document has not reached this site yet; try again later");
  std::string out;
  out.reserve((*doc)->size);
  for (uint32_t i = 0; i < (*doc)->chunks; ++i) {
    auto sealed = chunk(case_id, hash, i);
    if (!sealed.ok()) return sealed.status();
    if (!*sealed) return Status::Corruption("document chunk " + std::to_string(i) + " missing");
    auto plain = open_doc_chunk(key, case_id, hash, i, **sealed);
    if (!plain.ok()) return plain.status();
    out += *plain;
  }
  if (out.size() != (*doc)->size || document_hash(out) != hash)
    return Status::Corruption("document does not match its hash");
  return out;
}

}  // namespace tongban
