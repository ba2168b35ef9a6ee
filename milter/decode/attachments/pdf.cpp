// PDF with poppler's GLib binding (its C++ binding has no link annotations): text page by
// page as origin#pageN, URI link annotations as origin + " links", title/author as
// origin#properties. A PDF without any extractable text (a scan) is unscannable
// "pdf-no-text"; one that needs a password is "encrypted-pdf"; one poppler cannot open at
// all is corrupt (poppler itself repairs a broken xref by scanning the file).
#include <glib-object.h>
#include <poppler.h>

#include <memory>
#include <mutex>
#include <stdexcept>

#include "decode/attachments/internal.h"

namespace pm::attachments::detail {

namespace {

struct GObjectUnref {
  void operator()(gpointer p) const { if (p) g_object_unref(p); }
};
template <class T>
using GPtr = std::unique_ptr<T, GObjectUnref>;

struct GFreeDeleter {
  void operator()(gpointer p) const { g_free(p); }
};
using GString_ = std::unique_ptr<gchar, GFreeDeleter>;

struct GErrorDeleter {
  void operator()(GError* e) const { if (e) g_error_free(e); }
};
using GErrorPtr = std::unique_ptr<GError, GErrorDeleter>;

struct GBytesDeleter {
  void operator()(GBytes* b) const { if (b) g_bytes_unref(b); }
};
using GBytesPtr = std::unique_ptr<GBytes, GBytesDeleter>;

struct LinkMapping {
  GList* list = nullptr;
  ~LinkMapping() { if (list) poppler_page_free_link_mapping(list); }
};

// poppler initialises its global parameters on the first document it opens; serialise
// opening so two scanning threads never race there. Text extraction itself runs unlocked
// (each thread has its own document).
std::mutex g_open_mutex;

bool has_text(const std::string& s) { return s.find_first_not_of(" \t\r\n\f") != std::string::npos; }

}  // namespace

void read_pdf(Job& job, const std::string& origin, std::string_view bytes) {
  // The document reads straight from the attachment's bytes, which outlive it.
  GBytesPtr gbytes(g_bytes_new_static(bytes.data(), bytes.size()));
  GError* raw_error = nullptr;
  GPtr<PopplerDocument> doc;
  {
    std::lock_guard lock(g_open_mutex);
    doc.reset(poppler_document_new_from_bytes(gbytes.get(), nullptr, &raw_error));
  }
  GErrorPtr error(raw_error);
  if (!doc) {
    if (error && error->domain == POPPLER_ERROR && error->code == POPPLER_ERROR_ENCRYPTED) {
      job.unscannable(origin, "encrypted-pdf");
      return;
    }
    throw std::runtime_error("poppler cannot open");
  }

  std::string props;
  if (GString_ t{poppler_document_get_title(doc.get())}; t && *t) props += std::string("Title: ") + t.get() + "\n";
  if (GString_ a{poppler_document_get_author(doc.get())}; a && *a) props += std::string("Author: ") + a.get() + "\n";
  if (GString_ s{poppler_document_get_subject(doc.get())}; s && *s) props += std::string("Subject: ") + s.get() + "\n";

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
