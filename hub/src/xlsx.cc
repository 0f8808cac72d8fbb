// Spreadsheets for the hub's exports (the alert list): libxlsxwriter writes the workbook to a
// private temporary file, which is read back and removed.
#include <unistd.h>
#include <xlsxwriter.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tongban/hub/report.h"

namespace tongban::hub {

Result<std::string> xlsx_book(const std::vector<std::vector<std::string>>& rows,
                              const std::string& sheet_name) {
  std::string path = (std::filesystem::temp_directory_path() / "tongban-xlsx-XXXXXX").string();
  const int fd = mkstemp(path.data());  // 0600, ours alone
  if (fd < 0) return Status::Unavailable("cannot create a temporary file for the workbook");
  ::close(fd);
  struct Remove {
    const std::string& p;
    ~Remove() { ::unlink(p.c_str()); }
  } remove{path};
  lxw_workbook* book = workbook_new(path.c_str());
  if (!book) return Status::Internal("cannot start the workbook");
  lxw_worksheet* sheet = workbook_add_worksheet(book, sheet_name.c_str());
  lxw_format* bold = workbook_add_format(book);
  format_set_bold(bold);
  size_t columns = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    columns = std::max(columns, rows[r].size());
    for (size_t c = 0; c < rows[r].size(); ++c)
      worksheet_write_string(sheet, static_cast<lxw_row_t>(r), static_cast<lxw_col_t>(c),
                             rows[r][c].c_str(), r == 0 ? bold : nullptr);
  }
  if (columns) worksheet_set_column(sheet, 0, static_cast<lxw_col_t>(columns - 1), 18, nullptr);
  worksheet_freeze_panes(sheet, 1, 0);
  if (const lxw_error err = workbook_close(book); err != LXW_NO_ERROR)
    return Status::Internal(std::string("cannot write the workbook: ") + lxw_strerror(err));
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  if (!in) return Status::Internal("cannot read the workbook back");
  return bytes.str();
}

}  // namespace tongban::hub
