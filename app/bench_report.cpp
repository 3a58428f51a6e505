#include "app/bench_report.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <thread>

#include "common/atomic_file.h"
#include "common/error.h"
#include "flare_git_commit.h"

namespace flare::app {

const char* git_commit() { return FLARE_GIT_COMMIT; }

Timing samples_to_timing(std::vector<double> ms) {
  Timing t;
  t.reps = int(ms.size());
  if (ms.empty()) return t;
  double sum = 0;
  for (double v : ms) sum += v;
  t.mean_ms = sum / ms.size();
  double var = 0;
  for (double v : ms) var += (v - t.mean_ms) * (v - t.mean_ms);
  t.std_ms = ms.size() > 1 ? std::sqrt(var / (ms.size() - 1)) : 0.0;
  std::sort(ms.begin(), ms.end());
  t.min_ms = ms.front();
  t.median_ms = ms.size() % 2 ? ms[ms.size() / 2] : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
  return t;
}

Timing time_it(const std::function<void()>& fn, int warmup, int reps) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> ms;
  ms.reserve(reps);
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                     .count());
  }
  return samples_to_timing(std::move(ms));
}

OrderedJson cpu_hardware() {
  OrderedJson hw;
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      hw["cpu"] = line.substr(line.find(':') + 2);
      break;
    }
  }
  hw["cores"] = std::thread::hardware_concurrency();
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) == 0) hw["host"] = host;
  return hw;
}

BenchReport::BenchReport(std::string bench, OrderedJson config)
    : m_bench(std::move(bench)), m_config(std::move(config)), m_hardware(cpu_hardware()) {}

void BenchReport::add(OrderedJson row) { m_rows.push_back(std::move(row)); }

namespace {
std::string cell(const OrderedJson& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    double d = v.get<double>();
    std::ostringstream os;
    double a = std::fabs(d);
    if (a != 0 && (a >= 1e5 || a < 1e-2))
      os << std::setprecision(3) << d;
    else
      os << std::fixed << std::setprecision(a >= 100 ? 1 : 3) << d;
    return os.str();
  }
  return v.dump();
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}
}  // namespace

void BenchReport::print_markdown(std::ostream& os) const {
  std::vector<std::string> cols;
  for (const auto& r : m_rows)
    for (auto it = r.begin(); it != r.end(); ++it)
      if (std::find(cols.begin(), cols.end(), it.key()) == cols.end()) cols.push_back(it.key());
  os << "\nflare-surrogate bench " << m_bench << " | commit " << git_commit() << " | ";
  for (auto it = m_hardware.begin(); it != m_hardware.end(); ++it)
    os << (it == m_hardware.begin() ? "" : ", ") << it.key() << ": " << cell(it.value());
  os << "\nconfig: " << m_config.dump() << "\n\n|";
  for (const auto& c : cols) os << " " << c << " |";
  os << "\n|";
  for (std::size_t i = 0; i < cols.size(); ++i) os << "---|";
  os << "\n";
  for (const auto& r : m_rows) {
    os << "|";
    for (const auto& c : cols) os << " " << (r.contains(c) ? cell(r[c]) : "") << " |";
    os << "\n";
  }
  os << std::flush;
}

void BenchReport::append_jsonl(const std::filesystem::path& path) const {
  std::string old;
  if (std::filesystem::exists(path)) {
    std::ifstream in(path, std::ios::binary);
    old.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::string date = utc_now();
  write_atomically(path, [&](const std::filesystem::path& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    out << old;
    for (const auto& r : m_rows) {
      OrderedJson line;
      line["bench"] = m_bench;
      line["commit"] = git_commit();
      line["date"] = date;
      line["hardware"] = m_hardware;
      line["config"] = m_config;
      line["result"] = r;
      out << line.dump() << "\n";
    }
    if (!out) throw Error("could not write " + path.string());
  });
}

std::vector<OrderedJson> read_jsonl(const std::string& path, const std::string& who,
                                    const std::string& hint) {
  std::ifstream in(path);
  FLARE_INPUT_CHECK(in, who, ": cannot read ", path, " (", hint, ")");
  std::vector<OrderedJson> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    OrderedJson j;
    try {
      j = OrderedJson::parse(line);
    } catch (const std::exception& e) {
      throw InputError(who + ": " + path + " line " + std::to_string(n) + " is not JSON: " +
                       e.what());
    }
    FLARE_INPUT_CHECK(j.is_object(), who, ": ", path, " line ", n, " is not a JSON object");
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace flare::app
