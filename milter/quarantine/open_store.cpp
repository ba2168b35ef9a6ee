// The choice between the quarantine stores (open_store.h).
#include "quarantine/open_store.h"

#include <stdexcept>

#include "quarantine/pg_store.h"

namespace pm {

bool is_postgresql(const StoreConfig& c) {
  return c.backend == "postgresql";
}

void validate_store_config(const StoreConfig& c) {
  if (c.backend != "sqlite" && c.backend != "postgresql")
    throw std::invalid_argument("quarantine.backend: '" + c.backend +
                                "' is not a store (sqlite, postgresql)");
  if (is_postgresql(c) && c.dsn.empty())
    throw std::invalid_argument(
        "quarantine.dsn: backend = \"postgresql\" needs a dsn (a libpq connection string)");
}

std::unique_ptr<QuarantineBackend> open_store_for_put(const StoreConfig& c) {
  validate_store_config(c);
  if (is_postgresql(c)) return std::make_unique<PgQuarantineStore>(c, /*lazy=*/true);
  return QuarantineStore::open_for_put(c.dir, c.put);
}

std::unique_ptr<QuarantineBackend> open_store(const StoreConfig& c) {
  validate_store_config(c);
  if (is_postgresql(c)) return std::make_unique<PgQuarantineStore>(c);
  return std::make_unique<QuarantineStore>(c.dir);
}

}  // namespace pm
