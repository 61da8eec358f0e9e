// Result<T> and Result<void>.
#include "aero/base/result.h"

#include <gtest/gtest.h>

#include <memory>

namespace aero {
namespace {

Result<int> half(int value) {
  if (value % 2 != 0) return make_error("odd", "cannot halve " + std::to_string(value));
  return value / 2;
}

TEST(Result, CarriesValueOrError) {
  auto good = half(8);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 4);
  auto bad = half(3);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, "odd");
  EXPECT_EQ(bad.error().message, "cannot halve 3");
}

TEST(Result, HoldsMoveOnlyValues) {
  Result<std::unique_ptr<int>> boxed(std::make_unique<int>(5));
  ASSERT_TRUE(boxed.ok());
  std::unique_ptr<int> taken = std::move(boxed).value();
  EXPECT_EQ(*taken, 5);
}

TEST(Result, VoidSpecialisation) {
  Result<void> fine;
  EXPECT_TRUE(fine.ok());
  Result<void> failed = make_error("nope", "refused");
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().kind, "nope");
}

}  // namespace
}  // namespace aero
