#include "match/urls.h"

#include <algorithm>

namespace pm {

const char* to_string(UrlClass c) {
  switch (c) {
    case UrlClass::official: return "url:official";
    case UrlClass::allow: return "url:allow";
    case UrlClass::social_profile: return "url:social-profile";
    case UrlClass::social_content: return "url:social-content";
    case UrlClass::blog: return "url:blog";
    case UrlClass::shortener: return "url:shortener";
    case UrlClass::other: return "url:other";
  }
  return "url:other";
}

namespace {

bool url_char(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  if (u >= 0x80) return true;  // IDN hosts, non-ASCII paths
  if (std::isalnum(u)) return true;
  switch (c) {
    case '-': case '.': case '_': case '~': case ':': case '/': case '?': case '#': case '[':
    case ']': case '@': case '!': case '$': case '&': case '*': case '+': case ';':
    case '=': case '%': case ',': case '(': case ')': case '\'':
      return true;
    default:
      return false;
  }
}

bool host_matches(std::string_view host, std::string_view entry) {
  if (host == entry) return true;
  return host.size() > entry.size() && host.substr(host.size() - entry.size()) == entry &&
         host[host.size() - entry.size() - 1] == '.';
}

// "host" or "host/path-prefix" entries.
bool entry_matches(std::string_view host, std::string_view path, std::string_view entry) {
  auto slash = entry.find('/');
  if (slash == std::string_view::npos) return host_matches(host, entry);
  if (!host_matches(host, entry.substr(0, slash))) return false;
  std::string_view want = entry.substr(slash + 1);
  if (path.size() < want.size() || path.substr(0, want.size()) != want) return false;
  return path.size() == want.size() || path[want.size()] == '/' || path[want.size()] == '?';
}

bool any_entry(std::string_view host, std::string_view path, const std::vector<std::string>& list) {
  for (const auto& e : list)
    if (entry_matches(host, path, e)) return true;
  return false;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

void split_url(std::string_view url, std::string& host, std::string& path) {
  std::string_view u = url;
  auto scheme = u.find("://");
  if (scheme != std::string_view::npos && scheme < 12) u.remove_prefix(scheme + 3);
  auto end_host = u.find_first_of("/?#");
  std::string_view h = u.substr(0, end_host);
  auto at = h.rfind('@');
  if (at != std::string_view::npos) h.remove_prefix(at + 1);
  auto colon = h.find(':');
  if (colon != std::string_view::npos) h = h.substr(0, colon);
  while (!h.empty() && h.back() == '.') h.remove_suffix(1);
  for (std::string_view prefix : {"www.", "m.", "mobile.", "web."})
    if (h.size() > prefix.size() && h.substr(0, prefix.size()) == prefix) {
      h.remove_prefix(prefix.size());
      break;
    }
  host.assign(h);
  path.clear();
  if (end_host != std::string_view::npos && u[end_host] == '/') {
    std::string_view p = u.substr(end_host + 1);
    p = p.substr(0, p.find_first_of("?#"));
    path.assign(p);
  }
}

}  // namespace

// Ranks in the order classify_url() decides: official first, then allow, shortener,
// social, blog.
enum Rank { kOfficial, kAllow, kShortener, kSocial, kBlog, kNone };

void index_url_classes(UrlClasses& c) {
  c.index.clear();
  const std::pair<const std::vector<std::string>*, int> lists[] = {
      {&c.official, kOfficial}, {&c.allow, kAllow}, {&c.shortener, kShortener}, {&c.social, kSocial}, {&c.blog, kBlog}};
  for (const auto& [list, rank] : lists)
    for (const auto& e : *list) {
      auto slash = e.find('/');
      std::string host = e.substr(0, slash);
      std::string path = slash == std::string::npos ? "" : e.substr(slash + 1);
      c.index[host].emplace_back(path, rank);
    }
}

namespace {

int indexed_rank(std::string_view host, std::string_view path, const UrlClasses& c) {
  int best = kNone;
  // Every parent domain of the host: "a.b.example", "b.example", "example".
  for (std::size_t from = 0; from != std::string_view::npos;) {
    std::string_view suffix = host.substr(from);
    auto it = c.index.find(std::string(suffix));
    if (it != c.index.end())
      for (const auto& [prefix, rank] : it->second)
        if (rank < best && (prefix.empty() || entry_matches(host, path, std::string(suffix) + "/" + prefix)))
          best = rank;
    auto dot = host.find('.', from);
    from = dot == std::string_view::npos ? dot : dot + 1;
  }
  return best;
}

}  // namespace

UrlClass classify_url(std::string_view host, std::string_view path, const UrlClasses& c) {
  if (!c.index.empty()) {
    switch (indexed_rank(host, path, c)) {
      case kOfficial: return UrlClass::official;
      case kAllow: return UrlClass::allow;
      case kShortener: return UrlClass::shortener;
      case kSocial: {
        std::string_view first = path.substr(0, path.find('/'));
        if (first.empty()) return UrlClass::social_content;
        for (const auto& s : c.social_content)
          if (first == s) return UrlClass::social_content;
        return UrlClass::social_profile;
      }
      case kBlog: return UrlClass::blog;
      default: return UrlClass::other;
    }
  }
  if (any_entry(host, path, c.official)) return UrlClass::official;
  if (any_entry(host, path, c.allow)) return UrlClass::allow;
  if (any_entry(host, path, c.shortener)) return UrlClass::shortener;
  if (any_entry(host, path, c.social)) {
    std::string_view first = path.substr(0, path.find('/'));
    if (first.empty()) return UrlClass::social_content;
    for (const auto& s : c.social_content)
      if (first == s) return UrlClass::social_content;
    return UrlClass::social_profile;
  }
  if (any_entry(host, path, c.blog)) return UrlClass::blog;
  return UrlClass::other;
}

std::vector<UrlSpan> expand_urls(std::string_view text, std::vector<std::size_t> hints,
                                 const UrlClasses& classes) {
  std::sort(hints.begin(), hints.end());
  std::vector<UrlSpan> out;
  std::size_t covered = 0;
  for (std::size_t h : hints) {
    if (h < covered || h >= text.size()) continue;
    std::size_t s = h, e = h;
    while (s > 0 && url_char(text[s - 1]) && text[s - 1] != '(' && text[s - 1] != '\'') --s;
    while (e < text.size() && url_char(text[e])) ++e;
    // Trailing punctuation belongs to the sentence, not the URL.
    while (e > s && std::string_view(".,;:!?)]'\"").find(text[e - 1]) != std::string_view::npos) {
      if (text[e - 1] == ')' && text.substr(s, e - s).find('(') != std::string_view::npos) break;
      --e;
    }
    covered = e;
    std::string_view token = text.substr(s, e - s);
    // An e-mail address is not a link.
    if (token.find("://") == std::string_view::npos && token.find('@') != std::string_view::npos &&
        token.find('/') == std::string_view::npos)
      continue;
    if (token.substr(0, 7) == "mailto:") continue;
    std::string target(token);
    // Redirect wrappers: classify what they point at.
    for (std::string_view marker : {"url=http", "q=http", "u=http", "url=www", "target=http"}) {
      auto p = target.find(marker);
      if (p != std::string::npos) {
        std::string inner = percent_decode(target.substr(p + marker.find('=') + 1));
        auto amp = inner.find('&');
        if (amp != std::string::npos) inner.resize(amp);
        target = inner;
        break;
      }
    }
    if (target.find("%2f") != std::string::npos || target.find("%2e") != std::string::npos)
      target = percent_decode(target);
    UrlSpan u;
    u.start = s;
    u.end = e;
    split_url(target, u.host, u.path);
    if (u.host.find('.') == std::string::npos) continue;
    u.cls = classify_url(u.host, u.path, classes);
    out.push_back(std::move(u));
  }
  return out;
}

}  // namespace pm
