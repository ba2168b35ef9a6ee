#include "match/psl.h"

#include <libpsl.h>

#include <memory>

namespace pm {

namespace {

struct PslDeleter {
  void operator()(psl_ctx_t* p) const { psl_free(p); }
};

// The newest of the list compiled into libpsl and the one the publicsuffix package
// installs; the built-in one if the file cannot be read.
const psl_ctx_t* list() {
  static std::unique_ptr<psl_ctx_t, PslDeleter> latest(psl_latest(nullptr));
  return latest ? latest.get() : psl_builtin();
}

}  // namespace

bool is_public_suffix(std::string_view host) {
  const psl_ctx_t* p = list();
  if (!p || host.empty()) return false;
  std::string h(host);
  return psl_is_public_suffix2(p, h.c_str(), PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE) != 0;
}

std::string registrable_domain(std::string_view host) {
  const psl_ctx_t* p = list();
  if (!p || host.empty()) return {};
  std::string h(host);
  const char* r = psl_registrable_domain(p, h.c_str());
  return r ? std::string(r) : std::string();
}

}  // namespace pm
