// 电子材料 storage: types by content, sealed chunks bound to their place, chunks stored only in
// order, and a file whose whole does not match its recorded hash dropped.
#include "tongban/shared/documents.h"

#include <catch2/catch.hpp>

#include "support/test_support.h"

using namespace tongban;

namespace {

std::string png_of(size_t body) {
  std::string png("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16);
  png += std::string(17, '\x01');
  png += std::string(body, 'x');
  png += std::string("\0\0\0\0IEND\xae\x42\x60\x82", 12);
  return png;
}

pb::CaseEvent attach_event(const Hash32& hash, uint64_t size) {
  pb::CaseEvent e;
  auto* d = e.mutable_document_attached();
  d->set_material_code("ID");
  d->set_hash(hash.data(), hash.size());
  d->set_size(size);
  d->set_mime("image/png");
  return e;
}

Db open_docs_db(const std::filesystem::path& file) {
  auto d = Db::open(file);
  REQUIRE(d.ok());
  REQUIRE(d->exec(DocumentStore::schema()).ok());
  return std::move(*d);
}

struct Store {
  test::TempDir dir;
  Db db = open_docs_db(dir.path() / "docs.db");
  DocumentStore docs{db};
  int64_t chunks() {
    auto s = db.prepare("SELECT count(*) FROM doc_chunks");
    REQUIRE(s.ok());
    REQUIRE(*s->step());
    return s->int_at(0);
  }
};

}  // namespace

TEST_CASE("a document's type is what its content is whatever its name or header says",
          "[shared][documents]") {
  const std::string png = png_of(100);
  const std::string jpeg = std::string("\xff\xd8\xff\xe0", 4) + std::string(100, 'j') + "\xff\xd9";
  const std::string pdf = "%PDF-1.4\nbody\n%%EOF\n";
  CHECK(*sniff_document(png, "image/png", "a.PNG") == "image/png");
  CHECK(*sniff_document(jpeg, "image/jpg", "照片.jpeg") == "image/jpeg");
  CHECK(*sniff_document(pdf, "application/pdf; charset=binary", "") == "application/pdf");
  CHECK(*sniff_document(pdf, "application/octet-stream", "no-extension") == "application/pdf");
  CHECK(sniff_document(png, "application/pdf", "").status().reason() == "document_type_mismatch");
  CHECK(sniff_document(png, "", "a.jpg").status().reason() == "document_type_mismatch");
  CHECK(sniff_document(png, "", "a.exe").status().reason() == "document_type_mismatch");
  CHECK(sniff_document(jpeg.substr(0, 50), "image/jpeg", "").status().reason() ==
        "document_type_unsupported");
  CHECK(sniff_document("GIF89a....", "image/gif", "").status().reason() ==
        "document_type_unsupported");
  CHECK(sniff_document("", "image/png", "").status().reason() == "document_empty");
  CHECK(sniff_document(std::string(kMaxDocumentBytes + 1, 'x'), "", "").status().reason() ==
        "document_too_large");
}

TEST_CASE("a sealed chunk opens only with its case key in its own place", "[shared][documents]") {
  const SecretKey key = random_key();
  const Hash32 hash = document_hash("file");
  const std::string sealed = seal_doc_chunk(key, "S01-20261130-000001", hash, 3, "chunk bytes");
  CHECK(sealed.size() == 11 + kSealedChunkOverhead);
  CHECK(sealed.find("chunk bytes") == std::string::npos);
  CHECK(*open_doc_chunk(key, "S01-20261130-000001", hash, 3, sealed) == "chunk bytes");
  CHECK(!open_doc_chunk(key, "S01-20261130-000001", hash, 2, sealed).ok());
  CHECK(!open_doc_chunk(key, "S01-20261130-000002", hash, 3, sealed).ok());
  CHECK(!open_doc_chunk(key, "S01-20261130-000001", document_hash("other"), 3, sealed).ok());
  CHECK(!open_doc_chunk(random_key(), "S01-20261130-000001", hash, 3, sealed).ok());
}

TEST_CASE("chunks are stored in order only and a whole that does not match its hash is dropped",
          "[shared][documents]") {
  Store s;
  const std::string id = "S01-20261130-000001";
  const SecretKey key = random_key();
  const std::string content(kDocChunkBytes * 2 + 100, 'c');
  const Hash32 hash = document_hash(content);
  REQUIRE(s.docs.note(id, "S01", attach_event(hash, content.size())).ok());
  REQUIRE(s.docs.note(id, "S01", attach_event(hash, content.size())).ok());  // idempotent
  const std::vector<std::string> sealed = seal_document(key, id, hash, content);
  REQUIRE(sealed.size() == 3);

  auto wanted = s.docs.wanted("S01", 0, 10);
  REQUIRE(wanted.ok());
  REQUIRE(wanted->size() == 1);
  CHECK((*wanted)[0].chunks == 3);
  CHECK(s.docs.wanted("S02", 0, 10)->empty());

  // Out of order, the wrong length, altered: refused, nothing stored.
  CHECK(s.docs.put_chunk(id, hash, 1, sealed[1], &key).status().reason() == "chunk_out_of_order");
  CHECK(s.docs.put_chunk(id, hash, 0, sealed[2], &key).status().reason() == "chunk_size");
  std::string altered = sealed[0];
  altered[100] ^= 1;
  CHECK(s.docs.put_chunk(id, hash, 0, altered, &key).status().reason() == "chunk_does_not_open");
  CHECK(s.chunks() == 0);
  CHECK(s.docs.put_chunk(id, document_hash("unknown"), 0, sealed[0], &key).status().code() ==
        StatusCode::kNotFound);

  CHECK(*s.docs.put_chunk(id, hash, 0, sealed[0], &key) == DocumentStore::Put::kStored);
  CHECK(!s.docs.read(id, hash, key).ok());  // not complete yet
  CHECK(*s.docs.put_chunk(id, hash, 1, sealed[1], &key) == DocumentStore::Put::kStored);
  CHECK((*s.docs.get(id, hash))->have == 2);
  // A restart before the last chunk (a new store on the same file): the whole is read back.
  DocumentStore reopened(s.db);
  CHECK(*reopened.put_chunk(id, hash, 2, sealed[2], &key) == DocumentStore::Put::kComplete);
  CHECK(*s.docs.put_chunk(id, hash, 2, sealed[2], &key) == DocumentStore::Put::kDuplicate);
  CHECK(*s.docs.read(id, hash, key) == content);
  CHECK(s.docs.wanted("", 0, 10)->empty());

  // A site that sealed other bytes under the recorded hash: every chunk opens, the whole
  // does not match, and nothing of it is kept.
  const std::string id2 = "S01-20261130-000002";
  const std::string liar(100, 'l');
  const Hash32 claimed = document_hash("what the event says");
  REQUIRE(s.docs.note(id2, "S01", attach_event(claimed, liar.size())).ok());
  const std::vector<std::string> forged = seal_document(key, id2, claimed, liar);
  CHECK(*s.docs.put_chunk(id2, claimed, 0, forged[0], &key) == DocumentStore::Put::kRejected);
  CHECK((*s.docs.get(id2, claimed))->state == StoredDocument::State::kRejected);
  CHECK(s.chunks() == 3);
  CHECK(s.docs.wanted("", 0, 10)->empty());  // not fetched again

  // Deferred documents wait.
  const std::string id3 = "S01-20261130-000003";
  REQUIRE(s.docs.note(id3, "S01", attach_event(hash, content.size())).ok());
  REQUIRE(s.docs.defer(id3, hash, 1000).ok());
  CHECK(s.docs.wanted("", 999, 10)->empty());
  CHECK(s.docs.wanted("", 1000, 10)->size() == 1);
}
