// PDF with poppler's GLib binding (its C++ binding has no link annotations): text page by
// page as origin#pageN, URI link annotations as origin + " links", title/author as
// origin#properties. A PDF without any extractable text (a scan) is unscannable
// "pdf-no-text"; one that needs a password is "encrypted-pdf"; one poppler cannot open at
// all is corrupt (poppler itself repairs a broken xref by scanning the file).
#include <glib-object.h>
#include <poppler.h>

#include <memory>
#include <stdexcept>

#include "decode/attachments/internal.h"

namespace pm::attachments::detail {

namespace {

struct GObjectUnref {
  void operator()(gpointer p) const {
    if (p) g_object_unref(p);
  }
};
template <class T>
using GPtr = std::unique_ptr<T, GObjectUnref>;

struct GFreeDeleter {
  void operator()(gpointer p) const { g_free(p); }
};
using GString_ = std::unique_ptr<gchar, GFreeDeleter>;

struct GErrorDeleter {
  void operator()(GError* e) const {
    if (e) g_error_free(e);
  }
};
using GErrorPtr = std::unique_ptr<GError, GErrorDeleter>;

struct GBytesDeleter {
  void operator()(GBytes* b) const {
    if (b) g_bytes_unref(b);
  }
};
using GBytesPtr = std::unique_ptr<GBytes, GBytesDeleter>;

struct LinkMapping {
  GList* list = nullptr;
  ~LinkMapping() {
    if (list) poppler_page_free_link_mapping(list);
  }
};

// poppler-glib builds its GlobalParams (font tables, encodings, about 0.7 ms) when the
// first document opens and tears them down when the last one closes, so a process that
// reads one PDF at a time rebuilds them for every PDF (21 % of all scan CPU on a corpus with
// 4 % PDFs, issue 12). One tiny document kept open for the life of the process keeps them
// built once. poppler guards that reference count with its own mutex, and documents are
// independent after that, so scanning threads open and read their own documents in
// parallel; the first call (a function-local static) is the only one that builds.
constexpr char kKeepAlivePdf[] =
    "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    "2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    "3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 10 10]>>endobj\n"
    "trailer<</Root 1 0 R>>\n%%EOF\n";

void keep_poppler_globals() {
  static PopplerDocument* const keep = [] {
    GBytesPtr b(g_bytes_new_static(kKeepAlivePdf, sizeof kKeepAlivePdf - 1));
    return poppler_document_new_from_bytes(b.get(), nullptr, nullptr);  // never freed
  }();
  (void)keep;
}

bool has_text(const std::string& s) {
  return s.find_first_not_of(" \t\r\n\f") != std::string::npos;
}

}  // namespace

void read_pdf(Job& job, const std::string& origin, std::string_view bytes) {
  // The document reads straight from the attachment's bytes, which outlive it.
  GBytesPtr gbytes(g_bytes_new_static(bytes.data(), bytes.size()));
  GError* raw_error = nullptr;
  keep_poppler_globals();
  GPtr<PopplerDocument> doc(poppler_document_new_from_bytes(gbytes.get(), nullptr, &raw_error));
  GErrorPtr error(raw_error);
  if (!doc) {
    if (error && error->domain == POPPLER_ERROR && error->code == POPPLER_ERROR_ENCRYPTED) {
      job.unscannable(origin, "encrypted-pdf");
      return;
    }
    throw std::runtime_error("poppler cannot open");
  }

  std::string props;
  if (GString_ t{poppler_document_get_title(doc.get())}; t && *t)
    props += std::string("Title: ") + t.get() + "\n";
  if (GString_ a{poppler_document_get_author(doc.get())}; a && *a)
    props += std::string("Author: ") + a.get() + "\n";
  if (GString_ s{poppler_document_get_subject(doc.get())}; s && *s)
    props += std::string("Subject: ") + s.get() + "\n";

  std::vector<std::string> links;
  bool any_text = false;
  int pages = poppler_document_get_n_pages(doc.get());
  for (int i = 0; i < pages; ++i) {
    if (job.out_of_time(origin)) break;
    GPtr<PopplerPage> page(poppler_document_get_page(doc.get(), i));
    if (!page) continue;
    GString_ text(poppler_page_get_text(page.get()));
    if (text && has_text(text.get())) {
      any_text = true;
      job.emit(origin + "#page" + std::to_string(i + 1), SegmentKind::attachment, text.get());
    }
    LinkMapping map{poppler_page_get_link_mapping(page.get())};
    for (GList* l = map.list; l; l = l->next) {
      auto* m = static_cast<PopplerLinkMapping*>(l->data);
      if (m && m->action && m->action->type == POPPLER_ACTION_URI && m->action->uri.uri)
        links.emplace_back(m->action->uri.uri);
    }
    if (job.stopped) break;
  }
  job.emit(origin + "#properties", SegmentKind::attachment, std::move(props));
  job.emit_links(origin + " links", links);
  // Title and links alone do not make a document readable: a scan is unscannable.
  if (!any_text && !job.stopped) job.unscannable(origin, "pdf-no-text");
}

}  // namespace pm::attachments::detail
