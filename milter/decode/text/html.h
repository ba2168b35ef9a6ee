// HTML to readable text plus every link target (gumbo). Named, decimal and hex entities are
// decoded in text and attributes alike; <script>/<style>/<head> content is dropped; block
// elements and <br> become line breaks; table cells of one row stay on one line
// (tab-separated). Never throws.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pm::text {

struct HtmlText {
  std::string text;                // UTF-8, as a person reads the page
  std::vector<std::string> links;  // href/src targets in document order, entity-decoded
  // Byte offset in `text` where an HTML signature block starts (Outlook's
  // <div id="Signature">, Gmail's <div class="gmail_signature">, Apple's
  // <div id="AppleMailSignature">), or std::string::npos.
  std::size_t signature_start = std::string::npos;
};

HtmlText html_to_text(std::string_view html_utf8);

}  // namespace pm::text
