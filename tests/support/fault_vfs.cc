// A fault-injecting SQLite VFS, loaded into a real daemon with LD_PRELOAD (leveldb's
// FaultInjectionTestEnv is the model). It wraps the default VFS and becomes the default;
// before each write, truncate and sync of a database file it reads the control file named
// by TONGBAN_FAULT_VFS, one line "MODE [MATCH]":
//   ok         pass everything
//   full       writes and truncations fail with SQLITE_FULL (the disk is full)
//   eio-write  writes fail with SQLITE_IOERR_WRITE
//   eio-fsync  syncs fail with SQLITE_IOERR_FSYNC
// MATCH (default ".db") picks the files by a substring of their path (node.db, its -wal).
// Nothing of the daemon changes: the same binary runs in production without it.
#include <sqlite3.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

sqlite3_vfs* g_base = nullptr;
sqlite3_vfs g_vfs;
const char* g_control = nullptr;

struct FaultFile {
  sqlite3_file base;  // must be first: SQLite sees a FaultFile as a sqlite3_file
  sqlite3_file* real;
  bool watched;
};
sqlite3_io_methods g_methods;

enum class Mode { kOk, kFull, kEioWrite, kEioFsync };

// The current mode for a file: read from the control file each time (tests only).
Mode mode_for(const FaultFile* f) {
  if (!f->watched || !g_control) return Mode::kOk;
  std::FILE* in = std::fopen(g_control, "r");
  if (!in) return Mode::kOk;
  char line[256] = {0};
  const bool got = std::fgets(line, sizeof line, in) != nullptr;
  std::fclose(in);
  if (!got) return Mode::kOk;
  char mode[64] = {0};
  std::sscanf(line, "%63s", mode);
  if (std::strcmp(mode, "full") == 0) return Mode::kFull;
  if (std::strcmp(mode, "eio-write") == 0) return Mode::kEioWrite;
  if (std::strcmp(mode, "eio-fsync") == 0) return Mode::kEioFsync;
  return Mode::kOk;
}

std::string match_of_control() {
  std::FILE* in = g_control ? std::fopen(g_control, "r") : nullptr;
  if (!in) return ".db";
  char mode[64] = {0}, match[192] = {0};
  const int n = std::fscanf(in, "%63s %191s", mode, match);
  std::fclose(in);
  return n == 2 ? match : ".db";
}

sqlite3_file* real(sqlite3_file* f) { return reinterpret_cast<FaultFile*>(f)->real; }

int x_close(sqlite3_file* f) {
  FaultFile* ff = reinterpret_cast<FaultFile*>(f);
  const int rc = ff->real->pMethods ? ff->real->pMethods->xClose(ff->real) : SQLITE_OK;
  sqlite3_free(ff->real);
  return rc;
}
int x_read(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  return real(f)->pMethods->xRead(real(f), buf, n, off);
}
int x_write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  switch (mode_for(reinterpret_cast<FaultFile*>(f))) {
    case Mode::kFull: return SQLITE_FULL;
    case Mode::kEioWrite: return SQLITE_IOERR_WRITE;
    default: return real(f)->pMethods->xWrite(real(f), buf, n, off);
  }
}
int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
  if (mode_for(reinterpret_cast<FaultFile*>(f)) == Mode::kFull) return SQLITE_FULL;
  return real(f)->pMethods->xTruncate(real(f), size);
}
int x_sync(sqlite3_file* f, int flags) {
  if (mode_for(reinterpret_cast<FaultFile*>(f)) == Mode::kEioFsync) return SQLITE_IOERR_FSYNC;
  return real(f)->pMethods->xSync(real(f), flags);
}
int x_file_size(sqlite3_file* f, sqlite3_int64* size) {
  return real(f)->pMethods->xFileSize(real(f), size);
}
int x_lock(sqlite3_file* f, int l) { return real(f)->pMethods->xLock(real(f), l); }
int x_unlock(sqlite3_file* f, int l) { return real(f)->pMethods->xUnlock(real(f), l); }
int x_check_reserved_lock(sqlite3_file* f, int* out) {
  return real(f)->pMethods->xCheckReservedLock(real(f), out);
}
int x_file_control(sqlite3_file* f, int op, void* arg) {
  return real(f)->pMethods->xFileControl(real(f), op, arg);
}
int x_sector_size(sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); }
int x_device_characteristics(sqlite3_file* f) {
  return real(f)->pMethods->xDeviceCharacteristics(real(f));
}
int x_shm_map(sqlite3_file* f, int pg, int sz, int extend, void volatile** out) {
  return real(f)->pMethods->xShmMap(real(f), pg, sz, extend, out);
}
int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
}
void x_shm_barrier(sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); }
int x_shm_unmap(sqlite3_file* f, int del) { return real(f)->pMethods->xShmUnmap(real(f), del); }
int x_fetch(sqlite3_file* f, sqlite3_int64 off, int amt, void** pp) {
  return real(f)->pMethods->xFetch(real(f), off, amt, pp);
}
int x_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return real(f)->pMethods->xUnfetch(real(f), off, p);
}

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  FaultFile* ff = reinterpret_cast<FaultFile*>(f);
  ff->base.pMethods = nullptr;
  ff->real = static_cast<sqlite3_file*>(sqlite3_malloc(g_base->szOsFile));
  if (!ff->real) return SQLITE_NOMEM;
  std::memset(ff->real, 0, static_cast<size_t>(g_base->szOsFile));
  const int rc = g_base->xOpen(g_base, name, ff->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    sqlite3_free(ff->real);
    ff->real = nullptr;
    return rc;
  }
  ff->watched = name && std::strstr(name, match_of_control().c_str()) != nullptr;
  ff->base.pMethods = &g_methods;
  return SQLITE_OK;
}

// Registers the VFS as the default when the library is loaded.
__attribute__((constructor)) void install_fault_vfs() {
  g_control = std::getenv("TONGBAN_FAULT_VFS");
  if (!g_control || sqlite3_initialize() != SQLITE_OK) return;
  g_base = sqlite3_vfs_find(nullptr);
  if (!g_base) return;
  g_vfs = *g_base;
  g_vfs.zName = "tongban-fault";
  g_vfs.szOsFile = sizeof(FaultFile);
  g_vfs.xOpen = x_open;
  g_methods = sqlite3_io_methods{3,         x_close,       x_read,        x_write,
                                 x_truncate, x_sync,        x_file_size,   x_lock,
                                 x_unlock,   x_check_reserved_lock, x_file_control,
                                 x_sector_size, x_device_characteristics, x_shm_map,
                                 x_shm_lock, x_shm_barrier, x_shm_unmap,   x_fetch,
                                 x_unfetch};
  sqlite3_vfs_register(&g_vfs, 1);
}

}  // namespace
