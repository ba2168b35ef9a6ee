// The review page's files (static/index.html, app.js, app.css), compiled into the binary
// by CMake (embed_assets.cmake) so policy-review needs no web root and no CDN.
#pragma once

#include <string_view>
#include <vector>

namespace pm {

struct ReviewAsset {
  const char* path;               // "/", "/app.js", "/app.css"
  const char* content_type;
  std::string_view body;
};

const std::vector<ReviewAsset>& review_assets();

}  // namespace pm
