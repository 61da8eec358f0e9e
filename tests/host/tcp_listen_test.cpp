// parse_tcp_listen: the --tcp-listen grammar "[bind:]host_port:guest_port".
#include <gtest/gtest.h>

#include "aero/host/stack_runner.h"

namespace aero::host {
namespace {

TEST(TcpListen, PortsWithTheLoopbackDefault) {
  const auto listen = parse_tcp_listen("8080:80");
  ASSERT_TRUE(listen) << listen.error().message;
  EXPECT_EQ(listen->bind, "127.0.0.1");
  EXPECT_EQ(listen->host_port, 8080);
  EXPECT_EQ(listen->guest_port, 80);
}

TEST(TcpListen, ExplicitBindAddress) {
  const auto listen = parse_tcp_listen("0.0.0.0:2222:22");
  ASSERT_TRUE(listen) << listen.error().message;
  EXPECT_EQ(listen->bind, "0.0.0.0");
  EXPECT_EQ(listen->host_port, 2222);
  EXPECT_EQ(listen->guest_port, 22);
}

TEST(TcpListen, MalformedFormsAreRefusedWithTheirText) {
  for (const char* bad : {"", "8080", "0:80", "8080:0", "70000:80", "8080:65536", "a:80", "80:x",
                          "-1:80", "8080:80:", "localhost:8080:80", "1.2.3:8080:80",
                          "123456:80", ":8080:80"}) {
    const auto listen = parse_tcp_listen(bad);
    EXPECT_FALSE(listen) << bad;
    if (!listen) {
      EXPECT_NE(listen.error().message.find("tcp listen"), std::string::npos) << bad;
    }
  }
}

}  // namespace
}  // namespace aero::host
