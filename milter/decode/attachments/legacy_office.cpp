// Legacy binary Office files (OLE compound documents), issue 11: schools still send them.
//   .xls  libfreexl: every sheet as origin#<sheet>, one row per line, cells tab-separated,
//         dates as dd/mm/yyyy (how a UK school's Excel shows them)
//   .doc  wvWare (libwv): the document text as origin
//   .ppt, other OLE files: unscannable "unsupported:ppt" / "unsupported:ole" (not read)
//   password-protected: "encrypted-office"
// Both libraries are old C code that allocates what the file declares, so each runs in a
// forked child with a memory and time limit (isolate.h).
#include <fcntl.h>
#include <freexl.h>
#include <gsf/gsf-input-memory.h>
#include <gsf/gsf-utils.h>
#include <sys/mman.h>
#include <unistd.h>
#include <wv/wv.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

#include "decode/attachments/internal.h"
#include "decode/attachments/isolate.h"
#include "decode/text/charset.h"

namespace pm::attachments::detail {

namespace {

// Directory entries of a compound file are UTF-16LE names; the stream that holds the
// content says what the file is, whatever its name or declared type.
// `whole`: the name must end there ("Book" is not "BookMarks").
bool has_stream(std::string_view bytes, std::string_view name, bool whole = false) {
  std::string w;
  for (char c : name) {
    w.push_back(c);
    w.push_back('\0');
  }
  if (whole) w += std::string("\0\0", 2);
  return bytes.find(w) != std::string_view::npos;
}

// --- xls -------------------------------------------------------------------------------

struct XlsHandle {
  const void* h = nullptr;
  ~XlsHandle() {
    if (h) freexl_close(h);
  }
};

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// "2016-03-12" -> "12/03/2016"
std::string uk_date(const char* iso) {
  std::string s(iso ? iso : "");
  if (s.size() >= 10 && s[4] == '-' && s[7] == '-')
    return s.substr(8, 2) + "/" + s.substr(5, 2) + "/" + s.substr(0, 4) + s.substr(10);
  return s;
}

std::string number(double d) {
  char b[64];
  std::snprintf(b, sizeof b, "%.15g", d);
  return b;
}

void read_xls(Job& job, const std::string& origin, std::string_view bytes) {
  // libfreexl opens only paths: hand it an anonymous memory file, never a file on disk.
  Fd mem{::memfd_create("pm-xls", MFD_CLOEXEC)};
  if (mem.fd < 0) throw std::runtime_error("memfd");
  std::string_view rest = bytes;
  while (!rest.empty()) {
    ssize_t n = ::write(mem.fd, rest.data(), rest.size());
    if (n <= 0) throw std::runtime_error("memfd write");
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  std::string path = "/proc/self/fd/" + std::to_string(mem.fd);
  XlsHandle x;
  int rc = freexl_open(path.c_str(), &x.h);
  if (rc != FREEXL_OK) throw std::runtime_error("freexl cannot open");
  unsigned info = 0;
  if (freexl_get_info(x.h, FREEXL_BIFF_PASSWORD, &info) == FREEXL_OK &&
      info == FREEXL_BIFF_OBFUSCATED) {
    job.unscannable(origin, "encrypted-office");
    return;
  }
  unsigned sheets = 0;
  freexl_get_info(x.h, FREEXL_BIFF_SHEET_COUNT, &sheets);
  for (unsigned s = 0; s < sheets && !job.stopped; ++s) {
    if (job.out_of_time(origin)) return;
    const char* name = nullptr;
    if (freexl_get_worksheet_name(x.h, static_cast<unsigned short>(s), &name) != FREEXL_OK)
      continue;
    if (freexl_select_active_worksheet(x.h, static_cast<unsigned short>(s)) != FREEXL_OK) continue;
    unsigned rows = 0;
    unsigned short cols = 0;
    if (freexl_worksheet_dimensions(x.h, &rows, &cols) != FREEXL_OK) continue;
    std::string text;
    for (unsigned r = 0; r < rows; ++r) {
      std::string line;
      for (unsigned short c = 0; c < cols; ++c) {
        FreeXL_CellValue v;
        if (freexl_get_cell_value(x.h, r, c, &v) != FREEXL_OK) continue;
        std::string cell;
        switch (v.type) {
          case FREEXL_CELL_INT:
            cell = std::to_string(v.value.int_value);
            break;
          case FREEXL_CELL_DOUBLE:
            cell = number(v.value.double_value);
            break;
          case FREEXL_CELL_TEXT:
          case FREEXL_CELL_SST_TEXT:
          case FREEXL_CELL_TIME:
            cell = v.value.text_value ? v.value.text_value : "";
            break;
          case FREEXL_CELL_DATE:
          case FREEXL_CELL_DATETIME:
            cell = uk_date(v.value.text_value);
            break;
          default:
            break;
        }
        if (cell.empty()) continue;
        for (char& ch : cell)
          if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
        if (!line.empty()) line += '\t';
        line += cell;
      }
      if (!line.empty()) text += line + "\n";
    }
    job.emit(origin + "#" + (name ? name : "sheet" + std::to_string(s + 1)),
             SegmentKind::attachment, std::move(text));
  }
}

// --- doc -------------------------------------------------------------------------------

struct DocText {
  std::string text;
  int field_depth = 0;
};

// wvWare's character callback: chartype 0 is a UTF-16 unit, 1 a byte in the document's
// code page (windows-1252 for the languages a UK school writes in).
int on_char(wvParseStruct* ps, U16 ch, U8 chartype, U16 /*lid*/) {
  auto* d = static_cast<DocText*>(ps->userData);
  switch (ch) {
    case 13:
    case 11:
    case 12:
      d->text += '\n';
      return 0;  // paragraph, line, page break
    case 7:
      d->text += '\t';
      return 0;  // table cell mark
    case 14:
    case 9:
      d->text += '\t';
      return 0;
    case 19:
      ++d->field_depth;
      return 0;  // field code begins: not shown text
    case 20:
      if (d->field_depth > 0) --d->field_depth;
      return 0;  // field result follows
    case 21:
      return 0;
    default:
      break;
  }
  if (d->field_depth > 0) return 0;
  if (ch < 32) return 0;
  if (chartype == 1) {
    char b = static_cast<char>(ch & 0xFF);
    d->text += text::to_utf8(std::string_view(&b, 1), "windows-1252");
  } else {
    text::append_utf8(d->text, ch);
  }
  return 0;
}

struct GsfInputUnref {
  void operator()(GsfInput* i) const {
    if (i) g_object_unref(i);
  }
};

void read_doc(Job& job, const std::string& origin, std::string_view bytes) {
  wvInit();
  std::unique_ptr<GsfInput, GsfInputUnref> input(gsf_input_memory_new(
      reinterpret_cast<const guint8*>(bytes.data()), static_cast<gsf_off_t>(bytes.size()), FALSE));
  if (!input) throw std::runtime_error("gsf input");
  wvParseStruct ps;
  int rc = wvInitParser_gsf(&ps, input.get());
  if (rc & 0x8000) {  // password protected (wvInitParser's documented flag)
    job.unscannable(origin, "encrypted-office");
    return;
  }
  if (rc != 0) throw std::runtime_error("wv cannot open");
  DocText d;
  ps.userData = &d;
  wvSetCharHandler(&ps, on_char);
  wvText(&ps);
  wvOLEFree(&ps);
  job.emit(origin, SegmentKind::attachment, std::move(d.text));
}

}  // namespace

void read_ole(Job& job, const std::string& origin, std::string_view bytes) {
  // An OOXML file saved with a password is an OLE file holding an encrypted package; a
  // legacy file with a password is recognised by its reader.
  if (has_stream(bytes, "EncryptedPackage")) {
    job.unscannable(origin, "encrypted-office");
    return;
  }
  // A Word file may embed a spreadsheet (its "Workbook" stream sits in the ObjectPool), so
  // the Word stream is looked for first.
  if (has_stream(bytes, "WordDocument")) {
    run_isolated(job, origin, "doc", [&](Job& j) { read_doc(j, origin, bytes); });
  } else if (has_stream(bytes, "Workbook") || has_stream(bytes, "Book", true)) {
    run_isolated(job, origin, "xls", [&](Job& j) { read_xls(j, origin, bytes); });
  } else if (has_stream(bytes, "PowerPoint Document")) {
    job.unscannable(origin, "unsupported:ppt");
  } else {
    job.unscannable(origin, "unsupported:ole");
  }
}

}  // namespace pm::attachments::detail
