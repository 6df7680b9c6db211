// Precision names and roles (reference: the table of precision.h: bf16 computes with f32 master weights,
// gradients and statistics; f32 and f64 are their own master dtype; scalars are f64).
#include "backend/precision.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace minimind {
namespace {

TEST(Precision, NamesRoundTrip) {
  for (const std::string name : {"f32", "f64", "bf16"})
    EXPECT_EQ(precision_name(parse_precision(name)), name);
  EXPECT_EQ(parse_precision("bf16"), Precision::bf16_mixed());
  EXPECT_EQ(parse_precision("f64"), Precision::f64());
}

TEST(Precision, RolesFollowTheComputeDtype) {
  const Precision mixed = Precision::bf16_mixed();
  EXPECT_EQ(mixed.compute, DType::bf16);
  EXPECT_EQ(mixed.master(), DType::f32);
  EXPECT_EQ(mixed.statistic(), DType::f32);
  EXPECT_TRUE(mixed.separate_compute_weights());
  EXPECT_EQ(Precision::f64().gradient(), DType::f64);
  EXPECT_FALSE(Precision::f32().separate_compute_weights());
  EXPECT_EQ(Precision::scalar(), DType::f64);
}

TEST(Precision, UnknownNamesAreRefusedNamingTheAcceptedOnes) {
  for (const std::string name : {"", "fp32", "BF16", "f16", "bf16 "}) {
    try {
      parse_precision(name);
      ADD_FAILURE() << "'" << name << "' was accepted";
    } catch (const std::invalid_argument& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("'" + name + "'"), std::string::npos) << message;
      EXPECT_NE(message.find("bf16"), std::string::npos) << message;
    }
  }
  EXPECT_THROW(precision_name(Precision{DType::i32}), std::invalid_argument);
}

}  // namespace
}  // namespace minimind
