// The MIME walk. Order of work for one message:
//   1. prescan (decode/prescan.h) makes the bytes safe for mimetic (depth, header lines);
//   2. mimetic builds the part tree from the string's iterators (no istream: it is faster);
//   3. the walk reads each part's headers itself (decode/mime_header.h), undoes the
//      transfer encoding and charset, and appends segments; attachments go to
//      attachments::extract, forwarded messages recurse with a "forward/P " prefix.
// Limits are checked between parts; a limit hit stops the walk and becomes an Unscannable.
#include "decode/decode.h"

#include <mimetic/mimetic.h>

#include <cctype>
#include <cstdint>
#include <exception>
#include <memory>
#include <unordered_set>

#include "decode/attachments/attachments.h"
#include "decode/codec.h"
#include "decode/mime_header.h"
#include "decode/prescan.h"
#include "decode/signature.h"
#include "decode/text/charset.h"
#include "decode/text/html.h"
#include "util/strings.h"

namespace pm {
namespace {

using mimetic::MimeEntity;

struct PartHeaders {
  mime::HeaderValue content_type;  // type empty when absent
  std::string cte;                 // lower case
  mime::HeaderValue disposition;
  std::string filename;  // Content-Disposition filename, else Content-Type name
};

// Reads the few fields the walk needs; const access only (mimetic's non-const getters
// insert fields).
PartHeaders read_part_headers(const MimeEntity& e) {
  PartHeaders ph;
  bool have_ct = false, have_cte = false, have_cd = false;
  for (const mimetic::Field& f : e.header()) {
    const std::string_view name(f.name().data(), f.name().size());
    if (!have_ct && iequals(name, "content-type")) {
      ph.content_type = mime::parse_header_value(f.value(), true);
      have_ct = true;
    } else if (!have_cte && iequals(name, "content-transfer-encoding")) {
      ph.cte = to_lower_ascii(trim(f.value()));
      have_cte = true;
    } else if (!have_cd && iequals(name, "content-disposition")) {
      ph.disposition = mime::parse_header_value(f.value(), false);
      have_cd = true;
    }
  }
  if (const std::string* fn = ph.disposition.param("filename"); fn && !fn->empty())
    ph.filename = *fn;
  else if (const std::string* nm = ph.content_type.param("name"); nm && !nm->empty())
    ph.filename = *nm;
  // Names are shown and used as origins: one line, no path.
  for (char& c : ph.filename)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (auto slash = ph.filename.find_last_of("/\\"); slash != std::string::npos)
    ph.filename = ph.filename.substr(slash + 1);
  return ph;
}

std::string first_field(const MimeEntity& e, std::string_view name) {
  for (const mimetic::Field& f : e.header())
    if (iequals(std::string_view(f.name().data(), f.name().size()), name)) return f.value();
  return {};
}

// All occurrences joined (a message may carry several To: lines).
std::string all_fields(const MimeEntity& e, std::string_view name) {
  std::string out;
  for (const mimetic::Field& f : e.header()) {
    if (!iequals(std::string_view(f.name().data(), f.name().size()), name)) continue;
    if (!out.empty()) out += ", ";
    out += f.value();
  }
  return out;
}

void trim_trailing_space(std::string& s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.pop_back();
}

bool is_blank_text(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

class Walker {
 public:
  Walker(const Limits& limits, const Deadline& deadline, DecodedMessage& out)
      : limits_(limits), deadline_(deadline), out_(out) {}

  // Decodes one whole message (the top one, a base64-wrapped forward, an embedded .eml).
  void decode_raw(std::string_view raw, const std::string& prefix, unsigned depth, bool top) {
    const std::string where = prefix + "message";
    if (depth > limits_.max_mime_depth) {
      unscannable(where, "limit:max_mime_depth");
      return;
    }
    if (raw.size() > limits_.max_message_bytes) {
      // Not decoded at all - but its headers say who and what, cheaply.
      unscannable(where, "limit:max_message_bytes");
      raw = raw.substr(0, mime::header_block_end(raw));
    }
    mime::Prescan scan = mime::prescan(raw, limits_, limits_.max_mime_depth - depth);
    if (scan.header_line_cut) unscannable(where, "limit:max_header_line_bytes");
    if (scan.depth_cut) unscannable(where, "limit:max_mime_depth");
    if (scan.parts_cut) unscannable(where, "limit:max_parts");
    const std::string_view safe = scan.safe(raw);
    auto entity = std::make_unique<MimeEntity>(safe.data(), safe.data() + safe.size());
    walk_message(*entity, prefix, depth, top);
  }

 private:
  void walk_message(const MimeEntity& e, const std::string& prefix, unsigned depth, bool top) {
    std::string subject = mime::decode_header_value(trim(first_field(e, "subject")));
    auto from = mime::parse_address_list(all_fields(e, "from"));
    auto to = mime::parse_address_list(all_fields(e, "to"));
    auto cc = mime::parse_address_list(all_fields(e, "cc"));
    add_segment(prefix + "subject", SegmentKind::header, subject);
    std::string lines;
    for (const auto* list : {&from, &to, &cc}) {
      for (const Address& a : *list) {
        if (!a.display.empty()) {
          lines += a.display;
          lines += " <";
          lines += a.address;
          lines += ">\n";
        } else {
          lines += a.address;
          lines += '\n';
        }
      }
    }
    trim_trailing_space(lines);
    add_segment(prefix + "addresses", SegmentKind::header, std::move(lines));
    if (top) {
      out_.subject = std::move(subject);
      out_.from = std::move(from);
      out_.to = std::move(to);
      out_.cc = std::move(cc);
      out_.bcc = mime::parse_address_list(all_fields(e, "bcc"));
      out_.message_id = std::string(trim(first_field(e, "message-id")));
    }
    walk_part(e, "", prefix, depth, false);
  }

  void walk_part(const MimeEntity& e, const std::string& path, const std::string& prefix,
                 unsigned depth, bool in_digest) {
    if (stopped_) return;
    if (++parts_ > limits_.max_parts) {
      unscannable(prefix + "message", "limit:max_parts");
      stopped_ = true;
      return;
    }
    if (deadline_.expired()) {
      unscannable(prefix + "message", "limit:scan_time_budget_ms");
      stopped_ = true;
      return;
    }
    PartHeaders ph = read_part_headers(e);
    std::string type = ph.content_type.type, subtype = ph.content_type.subtype;
    if (type.empty() || (type != "multipart" && subtype.empty())) {
      // Missing (or unusable) Content-Type: RFC 2045/2046 defaults.
      type = in_digest ? "message" : "text";
      subtype = in_digest ? "rfc822" : "plain";
    }
    const bool multipart = type == "multipart";
    const std::string my_path = path.empty() && !multipart ? "1" : path;
    const std::string mime_type = type + "/" + subtype;
    const std::string origin =
        my_path.empty() ? prefix + "body" : prefix + "body/" + my_path + " " + mime_type;

    if (multipart) {
      if (subtype == "encrypted") {
        unscannable(origin, "encrypted");
        return;
      }
      if (depth + 1 > limits_.max_mime_depth) {
        unscannable(prefix + "message", "limit:max_mime_depth");
        return;
      }
      const auto& children = e.body().parts();
      if (children.empty()) {
        // mimetic found no boundary it understood (missing or malformed parameter): the
        // bytes landed in the preamble. Scan them as text rather than lose them.
        std::string raw = e.body().preamble();
        raw += e.body();
        raw += e.body().epilogue();
        add_text(raw, "", my_path.empty() ? "1" : my_path, "text/plain", prefix);
        return;
      }
      const std::size_t first_segment = out_.segments.size();
      unsigned i = 0;
      for (const MimeEntity* child : children) {
        ++i;
        if (stopped_) break;
        std::string child_path = path.empty() ? std::to_string(i) : path + "." + std::to_string(i);
        walk_part(*child, child_path, prefix, depth + 1, subtype == "digest");
      }
      if (subtype == "alternative") drop_covered_plain_text(first_segment);
      return;
    }

    if (type == "message" && (subtype == "rfc822" || subtype == "global" ||
                              subtype == mime::kEncodedRfc822Subtype)) {
      walk_forward(e, ph, my_path, prefix, depth);
      return;
    }

    // Encrypted or opaque content: nothing to read.
    if ((type == "application" && (subtype == "pkcs7-mime" || subtype == "x-pkcs7-mime"))) {
      const std::string* smime = ph.content_type.param("smime-type");
      std::string kind = smime ? to_lower_ascii(*smime) : std::string();
      unscannable(origin, kind == "signed-data" ? "smime-opaque-signed" : "encrypted");
      return;
    }
    if (type == "application" && subtype == "pgp-encrypted") {
      unscannable(origin, "encrypted");
      return;
    }
    // Detached signatures carry no text of the sender's.
    if (type == "application" && (subtype == "pkcs7-signature" || subtype == "x-pkcs7-signature" ||
                                  subtype == "pgp-signature"))
      return;

    const bool textual =
        type == "text" || (type == "message" && (subtype == "delivery-status" ||
                                                 subtype == "disposition-notification" ||
                                                 subtype == "rfc822-headers"));
    const bool attachment = ph.disposition.type == "attachment" || !textual;
    if (attachment) {
      handle_attachment(e, ph, mime_type, my_path, prefix, depth);
      return;
    }
    std::string decoded;
    std::string_view bytes = transfer_decoded(e, ph, decoded);
    // "text/plain" is the sender's client's guess: bytes that are not text (a gzip, a
    // photo, a UTF-16 export) are typed from the bytes like any attachment (issue 11).
    if (attachments::looks_binary(bytes)) {
      handle_attachment(e, ph, mime_type, my_path, prefix, depth);
      return;
    }
    const std::string* charset = ph.content_type.param("charset");
    std::string text = text::to_utf8(bytes, charset ? std::string_view(*charset) : std::string_view());
    decoded.clear();
    decoded.shrink_to_fit();
    add_text(text, subtype, my_path, mime_type, prefix);
  }

  // A text part: body segment, links (HTML) and signature segment.
  void add_text(std::string& text, const std::string& subtype, const std::string& path,
                const std::string& mime_type, const std::string& prefix) {
    const std::string origin = prefix + "body/" + path + " " + mime_type;
    mime::normalise_newlines(text);
    if (text.find("-----BEGIN PGP MESSAGE-----") != std::string::npos)
      unscannable(origin, "encrypted");
    std::string signature;
    if (subtype == "html") {
      text::HtmlText html = text::html_to_text(text);
      if (html.signature_start != std::string::npos) {
        signature = html.text.substr(html.signature_start);
        html.text.resize(html.signature_start);
      }
      trim_trailing_space(html.text);
      add_segment(origin, SegmentKind::body, std::move(html.text));
      // Targets already shown in the text (after their anchor text) are read there, with
      // their context; the links segment keeps the rest (images, forms, a link whose
      // target differs from what the text shows).
      std::string links;
      for (const std::string& l : html.links) {
        if (html.text.find(l) != std::string::npos) continue;
        links += l;
        links += '\n';
      }
      trim_trailing_space(links);
      add_segment(origin + " links", SegmentKind::links, std::move(links));
    } else {
      std::size_t sig = mime::find_plain_signature(text);
      if (sig != std::string::npos) {
        signature = text.substr(sig);
        text.resize(sig);
      }
      trim_trailing_space(text);
      add_segment(origin, SegmentKind::body, std::move(text));
    }
    trim_trailing_space(signature);
    add_segment(prefix + "signature/" + path, SegmentKind::signature, std::move(signature));
  }

  void walk_forward(const MimeEntity& e, const PartHeaders& ph, const std::string& path,
                    const std::string& prefix, unsigned depth) {
    const std::string fwd = prefix + "forward/" + path + " ";
    if (!ph.filename.empty() || ph.disposition.type == "attachment") {
      const std::string name = ph.filename.empty() ? "part-" + path + ".eml" : ph.filename;
      out_.attachments.push_back({prefix + "attachment:" + name, name, "message/rfc822",
                                  e.body().size()});
    }
    const bool encoded = ph.content_type.subtype == mime::kEncodedRfc822Subtype ||
                         ph.cte == "base64" || ph.cte == "quoted-printable";
    if (encoded) {
      // The prescan kept mimetic from parsing the encoded text; decode and parse it here.
      std::string inner = mime::decode_transfer(e.body(), ph.cte);
      decode_raw(inner, fwd, depth + 1, false);
    } else if (!e.body().parts().empty()) {
      if (depth + 1 > limits_.max_mime_depth) {
        unscannable(prefix + "message", "limit:max_mime_depth");
        return;
      }
      walk_message(*e.body().parts().front(), fwd, depth + 1, false);
    } else if (!is_blank_text(e.body())) {
      decode_raw(e.body(), fwd, depth + 1, false);
    }
  }

  void handle_attachment(const MimeEntity& e, const PartHeaders& ph, const std::string& mime_type,
                         const std::string& path, const std::string& prefix, unsigned depth) {
    const std::string name = ph.filename.empty() ? "part-" + path : ph.filename;
    const std::string origin = prefix + "attachment:" + name;
    std::string decoded;
    std::string_view bytes = transfer_decoded(e, ph, decoded);
    out_.attachments.push_back({origin, name, mime_type, bytes.size()});
    if (stopped_) return;
    const Limits& limits = limits_;
    const Deadline& deadline = deadline_;
    attachments::Context ctx{limits_, deadline_, depth, {}};
    ctx.decode_embedded = [&limits, &deadline](std::string_view raw, const std::string& origin_prefix,
                                               unsigned embedded_depth, DecodedMessage& out) {
      try {
        Walker inner(limits, deadline, out);
        inner.decode_raw(raw, origin_prefix, embedded_depth, false);
      } catch (const std::exception&) {
        out.unscannable.push_back({origin_prefix + "message", "decode-error"});
      }
    };
    try {
      attachments::extract(origin, name, mime_type, bytes, ctx, out_);
    } catch (const std::exception&) {
      out_.unscannable.push_back({origin, "extract-error"});
    }
    // Extractors append segments directly; keep the running total honest.
    std::size_t total = 0;
    for (const Segment& s : out_.segments) total += s.text.size();
    out_.decoded_bytes = total;
  }

  std::string_view transfer_decoded(const MimeEntity& e, const PartHeaders& ph, std::string& storage) {
    const std::string& body = e.body();
    if (ph.cte == "base64" || ph.cte == "quoted-printable") {
      storage = mime::decode_transfer(body, ph.cte);
      return storage;
    }
    return body;
  }

  void add_segment(std::string origin, SegmentKind kind, std::string text) {
    if (is_blank_text(text)) return;
    const std::size_t max = limits_.max_decoded_bytes;
    const std::size_t room = out_.decoded_bytes < max ? max - out_.decoded_bytes : 0;
    if (text.size() > room) {
      unscannable(origin, "limit:max_decoded_bytes");
      std::size_t cut = room;
      // Cut on a character boundary.
      while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
      text.resize(cut);
      if (text.empty()) return;
    }
    out_.decoded_bytes += text.size();
    out_.segments.push_back(Segment{std::move(origin), kind, std::move(text)});
  }

  // multipart/alternative: the text/plain version of an HTML body says the same thing
  // twice, and reading it twice is half the cost of a newsletter. So the plain version
  // keeps only its lines that carry a word the HTML version (body, links, signature) does
  // not: text that exists only in the plain part is always read, with its line around it.
  void drop_covered_plain_text(std::size_t first) {
    auto& segs = out_.segments;
    std::size_t plain = segs.size();
    bool html = false;
    for (std::size_t k = first; k < segs.size(); ++k) {
      const std::string& o = segs[k].origin;
      if (segs[k].kind == SegmentKind::body && o.ends_with(" text/plain")) {
        if (plain != segs.size()) return;  // two plain parts: leave the alternative alone
        plain = k;
      }
      html |= segs[k].kind == SegmentKind::body && o.ends_with(" text/html");
    }
    if (plain == segs.size() || !html) return;
    const std::string& po = segs[plain].origin;
    const std::string plain_sig = "signature/" + po.substr(po.find("body/") + 5, po.rfind(' ') - po.find("body/") - 5);
    std::size_t html_bytes = 0;
    for (std::size_t k = first; k < segs.size(); ++k) html_bytes += segs[k].text.size();
    WordSet words(html_bytes / 4 + 16);
    for_each_word_in_range(first, segs.size(), [&](std::size_t k) {
      return k != plain && !(segs[k].kind == SegmentKind::signature && segs[k].origin.ends_with(plain_sig));
    }, words);
    // The plain part's segments, last first so erasing one keeps the others' indexes.
    std::vector<std::size_t> mine;
    for (std::size_t k = first; k < segs.size(); ++k)
      if (k == plain || (segs[k].kind == SegmentKind::signature && segs[k].origin.ends_with(plain_sig)))
        mine.push_back(k);
    for (auto it = mine.rbegin(); it != mine.rend(); ++it) {
      std::string kept = lines_with_new_words(segs[*it].text, words);
      out_.decoded_bytes -= segs[*it].text.size() - kept.size();
      if (kept.empty())
        segs.erase(segs.begin() + static_cast<std::ptrdiff_t>(*it));
      else
        segs[*it].text = std::move(kept);
    }
  }

  // Calls fn(hash) for every word (a run of letters, digits or non-ASCII bytes, ASCII
  // case folded) of `t`. Words are compared by 64-bit FNV-1a hash: a collision can only
  // drop a line that a real duplicate would have dropped anyway, with odds of 2^-64.
  template <typename Fn>
  static void split_words(std::string_view t, Fn&& fn) {
    std::uint64_t h = 1469598103934665603ULL;
    bool in_word = false;
    for (std::size_t k = 0; k <= t.size(); ++k) {
      unsigned char c = k < t.size() ? static_cast<unsigned char>(t[k]) : ' ';
      bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
      if (word) {
        if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c + 32);
        h = (h ^ c) * 1099511628211ULL;
        in_word = true;
      } else if (in_word) {
        fn(h);
        h = 1469598103934665603ULL;
        in_word = false;
      }
    }
  }

  // A flat open-addressing set of word hashes: the plain-part check runs on every
  // newsletter, and a node-based set costs more than the hashing.
  class WordSet {
   public:
    explicit WordSet(std::size_t expected) {
      std::size_t cap = 64;
      while (cap < expected * 2) cap <<= 1;
      slots_.assign(cap, 0);
      mask_ = cap - 1;
    }
    void insert(std::uint64_t h) {
      h |= 1;  // 0 marks an empty slot
      for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
        if (slots_[i] == h) return;
        if (slots_[i] == 0) {
          slots_[i] = h;
          if (++size_ * 2 > slots_.size()) grow();
          return;
        }
      }
    }
    bool count(std::uint64_t h) const {
      h |= 1;
      for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
        if (slots_[i] == h) return true;
        if (slots_[i] == 0) return false;
      }
    }

   private:
    void grow() {
      std::vector<std::uint64_t> old;
      old.swap(slots_);
      slots_.assign(old.size() * 2, 0);
      mask_ = slots_.size() - 1;
      size_ = 0;
      for (std::uint64_t h : old)
        if (h) insert(h);
    }
    std::vector<std::uint64_t> slots_;
    std::size_t mask_ = 0, size_ = 0;
  };

  template <typename Keep>
  void for_each_word_in_range(std::size_t from, std::size_t to, Keep&& keep, WordSet& words) const {
    for (std::size_t k = from; k < to; ++k)
      if (keep(k)) split_words(out_.segments[k].text, [&](std::uint64_t w) { words.insert(w); });
  }

  static std::string lines_with_new_words(const std::string& text, const WordSet& words) {
    std::string out;
    std::size_t start = 0;
    while (start < text.size()) {
      std::size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      std::string_view line(text.data() + start, end - start);
      bool novel = false;
      split_words(line, [&](std::uint64_t w) { novel = novel || !words.count(w); });
      if (novel) {
        if (!out.empty()) out += '\n';
        out.append(line);
      }
      start = end + 1;
    }
    return out;
  }

  // Limit reasons are reported once per message; others once per origin.
  void unscannable(const std::string& origin, const std::string& reason) {
    for (const Unscannable& u : out_.unscannable) {
      if (u.reason == reason && (u.origin == origin || reason.rfind("limit:", 0) == 0)) return;
    }
    out_.unscannable.push_back({origin, reason});
  }

  const Limits& limits_;
  const Deadline& deadline_;
  DecodedMessage& out_;
  unsigned parts_ = 0;
  bool stopped_ = false;
};

}  // namespace

DecodedMessage decode_message(std::string_view raw, const Limits& limits, const Deadline& deadline) {
  DecodedMessage out;
  try {
    Walker walker(limits, deadline, out);
    walker.decode_raw(raw, "", 0, true);
  } catch (const std::bad_alloc&) {
    out.unscannable.push_back({"message", "decode-error:out-of-memory"});
  } catch (const std::exception&) {
    out.unscannable.push_back({"message", "decode-error"});
  } catch (...) {
    out.unscannable.push_back({"message", "decode-error"});
  }
  std::size_t total = 0;
  for (const Segment& s : out.segments) total += s.text.size();
  out.decoded_bytes = total;
  return out;
}

}  // namespace pm
