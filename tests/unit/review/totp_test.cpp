// TOTP (RFC 6238 Appendix B vectors), HOTP (RFC 4226 Appendix D) and Base32 (RFC 4648).
#include "review/totp.h"

#include <gtest/gtest.h>

namespace pm::totp {
namespace {

TEST(Totp, Rfc6238Vectors) {
  const std::string k1 = "12345678901234567890";
  const std::string k256 = "12345678901234567890123456789012";
  const std::string k512 = "1234567890123456789012345678901234567890123456789012345678901234";
  struct V {
    std::int64_t t;
    const char *sha1, *sha256, *sha512;
  };
  const V vs[] = {{59, "94287082", "46119246", "90693936"},
                  {1111111109, "07081804", "68084774", "25091201"},
                  {1111111111, "14050471", "67062674", "99943326"},
                  {1234567890, "89005924", "91819424", "93441116"},
                  {2000000000, "69279037", "90698825", "38618901"},
                  {20000000000, "65353130", "77737706", "47863826"}};
  for (const auto& v : vs) {
    EXPECT_EQ(totp(k1, v.t, 8, Hash::sha1), v.sha1) << v.t;
    EXPECT_EQ(totp(k256, v.t, 8, Hash::sha256), v.sha256) << v.t;
    EXPECT_EQ(totp(k512, v.t, 8, Hash::sha512), v.sha512) << v.t;
  }
}

TEST(Totp, Rfc4226HotpVectors) {
  const char* want[] = {"755224", "287082", "359152", "969429", "338314",
                        "254676", "287922", "162583", "399871", "520489"};
  for (int i = 0; i < 10; ++i) EXPECT_EQ(hotp("12345678901234567890", i), want[i]) << i;
}

TEST(Totp, VerifyAcceptsOneStepOfDriftOnly) {
  const std::string key = "12345678901234567890";
  const std::int64_t now = 1234567890;
  EXPECT_TRUE(verify(key, totp(key, now), now));
  EXPECT_TRUE(verify(key, totp(key, now - 30), now));
  EXPECT_TRUE(verify(key, totp(key, now + 30), now));
  EXPECT_FALSE(verify(key, totp(key, now - 90), now));
  EXPECT_FALSE(verify(key, "", now));
  EXPECT_FALSE(verify(key, "12345", now));
  EXPECT_FALSE(verify(key, totp(key, now, 8), now));
}

TEST(Base32, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vs[] = {{"", ""},
                                                    {"f", "MY"},
                                                    {"fo", "MZXQ"},
                                                    {"foo", "MZXW6"},
                                                    {"foob", "MZXW6YQ"},
                                                    {"fooba", "MZXW6YTB"},
                                                    {"foobar", "MZXW6YTBOI"}};
  for (const auto& [plain, enc] : vs) {
    EXPECT_EQ(base32_encode(plain), enc);
    EXPECT_EQ(base32_decode(enc).value(), plain);
  }
  EXPECT_EQ(base32_decode("mzxw 6ytb oi======").value(), "foobar");
  EXPECT_FALSE(base32_decode("MZ1W").has_value());  // '1' is not Base32
  std::string s = new_secret_base32();
  EXPECT_EQ(s.size(), 32u);
  EXPECT_EQ(base32_decode(s)->size(), 20u);
  EXPECT_NE(new_secret_base32(), s);
  EXPECT_EQ(provisioning_uri("ABC", "head teacher", "St Anne's"),
            "otpauth://totp/"
            "St%20Anne%27s:head%20teacher?secret=ABC&issuer=St%20Anne%27s&algorithm=SHA1&digits=6&"
            "period=30");
}

}  // namespace
}  // namespace pm::totp
