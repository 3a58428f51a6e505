// A parallel reader for the common kind of .vtu file: binary, appended, raw-encoded, little-endian,
// one piece, uncompressed or compressed by zlib, LZ4 or LZMA (what write_vtu, ParaView and VTK
// write by default). VTK's reader decodes and copies array by array on one thread; here the file
// is mapped, the XML header parsed, and every compressed block (or slice of an uncompressed array)
// of every array is decoded straight into the Mesh's buffers by OpenMP threads.
//
// Anything this reader does not recognise (other encodings, several pieces, big-endian files,
// polyhedra, unknown array types, unnamed or repeated arrays, sizes that do not add up, a block
// that fails to decode) makes it step aside: read_mesh then runs VTK's reader, whose result and
// error messages stay the reference. Tests compare both readers on the same files.
#include <fcntl.h>
#include <omp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vtkDataCompressor.h>
#include <vtkLZ4DataCompressor.h>
#include <vtkLZMADataCompressor.h>
#include <vtkSmartPointer.h>
#include <vtkZLibDataCompressor.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <map>
#include <optional>
#include <string_view>

#include "mesh/io_detail.h"

namespace flare::mesh::detail {

namespace {

namespace fs = std::filesystem;

// The file, mapped read-only.
class MappedFile {
 public:
  explicit MappedFile(const fs::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
      void* p = ::mmap(nullptr, std::size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
      if (p != MAP_FAILED) {
        m_data = static_cast<const char*>(p);
        m_size = std::size_t(st.st_size);
        ::madvise(p, m_size, MADV_WILLNEED);
      }
    }
    ::close(fd);
  }
  ~MappedFile() {
    if (m_data) ::munmap(const_cast<char*>(m_data), m_size);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const char* data() const { return m_data; }
  std::size_t size() const { return m_size; }

 private:
  const char* m_data = nullptr;
  std::size_t m_size = 0;
};

// One XML start tag of the header: its name, attributes, and where it sits.
struct Tag {
  std::string name;
  std::map<std::string, std::string> attrs;
  std::vector<std::string> parents;  // enclosing element names, outermost first
  bool has(const std::string& k) const { return attrs.count(k) != 0; }
  const std::string& at(const std::string& k) const {
    static const std::string none;
    const auto it = attrs.find(k);
    return it == attrs.end() ? none : it->second;
  }
};

// The start tags of `xml` (the header before the appended data), or nothing when it is not the
// simple XML VTK writes (no CDATA, entities in names, or unbalanced tags).
std::optional<std::vector<Tag>> parse_tags(std::string_view xml) {
  std::vector<Tag> tags;
  std::vector<std::string> open;
  std::size_t i = 0;
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while ((i = xml.find('<', i)) != std::string_view::npos) {
    if (xml.substr(i, 4) == "<!--") {
      const std::size_t e = xml.find("-->", i);
      if (e == std::string_view::npos) return std::nullopt;
      i = e + 3;
      continue;
    }
    if (xml.substr(i, 2) == "<?") {
      const std::size_t e = xml.find("?>", i);
      if (e == std::string_view::npos) return std::nullopt;
      i = e + 2;
      continue;
    }
    if (xml.substr(i, 2) == "<!") return std::nullopt;
    if (xml.substr(i, 2) == "</") {
      const std::size_t e = xml.find('>', i);
      if (e == std::string_view::npos || open.empty()) return std::nullopt;
      std::string_view name = xml.substr(i + 2, e - i - 2);
      while (!name.empty() && space(name.back())) name.remove_suffix(1);
      if (name != open.back()) return std::nullopt;
      open.pop_back();
      i = e + 1;
      continue;
    }
    Tag t;
    t.parents = open;
    std::size_t j = i + 1;
    while (j < xml.size() && !space(xml[j]) && xml[j] != '>' && xml[j] != '/') ++j;
    t.name = std::string(xml.substr(i + 1, j - i - 1));
    if (t.name.empty()) return std::nullopt;
    bool closed = false;
    for (;;) {
      while (j < xml.size() && space(xml[j])) ++j;
      if (j >= xml.size()) return std::nullopt;
      if (xml[j] == '>') break;
      if (xml.substr(j, 2) == "/>") {
        closed = true;
        ++j;
        break;
      }
      const std::size_t eq = xml.find('=', j);
      if (eq == std::string_view::npos) return std::nullopt;
      std::string_view key = xml.substr(j, eq - j);
      while (!key.empty() && space(key.back())) key.remove_suffix(1);
      std::size_t q = eq + 1;
      while (q < xml.size() && space(xml[q])) ++q;
      if (q >= xml.size() || (xml[q] != '"' && xml[q] != '\'')) return std::nullopt;
      const std::size_t end = xml.find(xml[q], q + 1);
      if (end == std::string_view::npos) return std::nullopt;
      const std::string_view value = xml.substr(q + 1, end - q - 1);
      if (value.find('&') != std::string_view::npos) return std::nullopt;  // entities: leave to VTK
      t.attrs[std::string(key)] = std::string(value);
      j = end + 1;
    }
    if (!closed) open.push_back(t.name);
    tags.push_back(std::move(t));
    i = j + 1;
  }
  return tags;
}

// VTK XML type names with their DType and size.
std::optional<DType> dtype_of(const std::string& t) {
  static const std::map<std::string, DType> types = {
      {"Int8", DType::Int8},     {"UInt8", DType::UInt8},     {"Int16", DType::Int16},
      {"UInt16", DType::UInt16}, {"Int32", DType::Int32},     {"UInt32", DType::UInt32},
      {"Int64", DType::Int64},   {"UInt64", DType::UInt64},   {"Float32", DType::Float32},
      {"Float64", DType::Float64}};
  const auto it = types.find(t);
  if (it == types.end()) return std::nullopt;
  return it->second;
}

std::optional<std::uint64_t> to_uint(const std::string& s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + std::uint64_t(c - '0');
  }
  return v;
}

// A contiguous piece of work: one compressed block, or one slice of an uncompressed array.
struct Piece {
  const char* src;
  std::size_t src_bytes;
  std::byte* dst;
  std::size_t dst_bytes;
  bool compressed;
};

// The appended data: array headers and their pieces.
class Appended {
 public:
  Appended(const char* base, std::size_t size, std::size_t header_bytes, std::string compressor)
      : m_base(base), m_size(size), m_h(header_bytes), m_compressor(std::move(compressor)) {}

  /// Decoded size of the array whose header is at `offset`; with `dst`, also appends the pieces
  /// that decode it there. Nothing when the header or the data would lie outside the file.
  std::optional<std::size_t> plan(std::size_t offset, std::byte* dst, std::vector<Piece>* out) const {
    std::uint64_t n = 0;
    if (m_compressor.empty()) {
      if (!uint_at(offset, n) || offset + m_h + n > m_size) return std::nullopt;
      constexpr std::size_t kSlice = std::size_t(1) << 22;
      for (std::size_t o = 0; dst && o < n; o += kSlice) {
        const std::size_t len = std::min<std::size_t>(kSlice, n - o);
        out->push_back({m_base + offset + m_h + o, len, dst + o, len, false});
      }
      return std::size_t(n);
    }
    std::uint64_t block = 0, last = 0;
    if (!uint_at(offset, n) || !uint_at(offset + m_h, block) || !uint_at(offset + 2 * m_h, last))
      return std::nullopt;
    if (n > m_size / m_h || offset + (3 + n) * m_h > m_size) return std::nullopt;
    if (n > 0 && (block == 0 || last > block)) return std::nullopt;
    const std::size_t decoded = n == 0 ? 0 : std::size_t((n - 1) * block + (last ? last : block));
    std::size_t src = offset + (3 + n) * m_h, at = 0;
    for (std::uint64_t b = 0; b < n; ++b) {
      std::uint64_t cs = 0;
      uint_at(offset + (3 + b) * m_h, cs);
      const std::size_t len = b + 1 == n ? decoded - at : std::size_t(block);
      if (cs > m_size || src + cs > m_size) return std::nullopt;
      if (dst) out->push_back({m_base + src, std::size_t(cs), dst + at, len, true});
      src += cs;
      at += len;
    }
    return decoded;
  }

  /// Decodes the pieces in parallel; false when a block does not decode to its size.
  bool decode(const std::vector<Piece>& pieces) const {
    const std::size_t threads = std::size_t(omp_get_max_threads());
    std::vector<vtkSmartPointer<vtkDataCompressor>> codecs(threads);
    for (auto& c : codecs) {
      if (m_compressor == "vtkZLibDataCompressor") c = vtkSmartPointer<vtkZLibDataCompressor>::New();
      else if (m_compressor == "vtkLZ4DataCompressor") c = vtkSmartPointer<vtkLZ4DataCompressor>::New();
      else if (m_compressor == "vtkLZMADataCompressor") c = vtkSmartPointer<vtkLZMADataCompressor>::New();
    }
    bool ok = true;
    const std::int64_t n = std::int64_t(pieces.size());
    std::size_t total = 0;
    for (const Piece& p : pieces) total += p.dst_bytes;
    const bool threaded = total > (std::size_t(1) << 20);  // small files: no thread team
#pragma omp parallel for schedule(dynamic, 1) reduction(&& : ok) if (threaded)
    for (std::int64_t i = 0; i < n; ++i) {
      const Piece& p = pieces[std::size_t(i)];
      if (!p.compressed) {
        std::memcpy(p.dst, p.src, p.dst_bytes);
        continue;
      }
      vtkDataCompressor* c = codecs[std::size_t(omp_get_thread_num())];
      ok = ok && c->Uncompress(reinterpret_cast<const unsigned char*>(p.src), p.src_bytes,
                               reinterpret_cast<unsigned char*>(p.dst), p.dst_bytes) == p.dst_bytes;
    }
    return ok;
  }

 private:
  bool uint_at(std::size_t at, std::uint64_t& v) const {
    if (at > m_size || m_size - at < m_h) return false;
    if (m_h == 8) {
      std::memcpy(&v, m_base + at, 8);
    } else {
      std::uint32_t w;
      std::memcpy(&w, m_base + at, 4);
      v = w;
    }
    return true;
  }
  const char* m_base;
  std::size_t m_size, m_h;
  std::string m_compressor;
};

// Where a DataArray of the file goes.
enum class Role { Points, Connectivity, Offsets, Types, Array, FieldString };

struct Entry {
  Role role;
  std::size_t offset;      // of its header in the appended data
  DType type = DType::UInt8;
  std::string section;     // PointData, CellData, FieldData (arrays)
  std::string name;
  int components = 1;
  std::int64_t tuples = 0;
  std::vector<std::byte> bytes;  // decoded, for everything but Array (decoded in place)
  DataArray array;               // Role::Array
};

// Narrower integer ids (other writers' Int32) to int64.
bool widen_ids(const Entry& e, std::int64_t* out, std::int64_t n) {
  if (std::int64_t(e.bytes.size()) != n * std::int64_t(dtype_size(e.type))) return false;
  DataArray view("ids", e.type, 1, n);
  std::memcpy(view.raw(), e.bytes.data(), e.bytes.size());
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) out[i] = std::int64_t(view.get(i));
  return true;
}

}  // namespace

std::optional<Mesh> read_vtu_fast(const fs::path& path) {
  if constexpr (std::endian::native != std::endian::little) return std::nullopt;
  const MappedFile file(path);
  if (!file.data()) return std::nullopt;
  const std::string_view all(file.data(), file.size());
  const std::size_t app = all.find("<AppendedData");
  if (app == std::string_view::npos) return std::nullopt;
  const std::size_t app_end = all.find('>', app);
  if (app_end == std::string_view::npos) return std::nullopt;
  if (all.substr(app, app_end - app).find("encoding=\"raw\"") == std::string_view::npos)
    return std::nullopt;
  const std::size_t underscore = all.find('_', app_end);
  if (underscore == std::string_view::npos) return std::nullopt;
  for (std::size_t k = app_end + 1; k < underscore; ++k)
    if (all[k] != ' ' && all[k] != '\n' && all[k] != '\r' && all[k] != '\t') return std::nullopt;

  const auto tags = parse_tags(all.substr(0, app));
  if (!tags || tags->empty()) return std::nullopt;
  const Tag& root = tags->front();
  if (root.name != "VTKFile" || root.at("type") != "UnstructuredGrid") return std::nullopt;
  if (root.has("byte_order") && root.at("byte_order") != "LittleEndian") return std::nullopt;
  const std::string header_type = root.has("header_type") ? root.at("header_type") : "UInt32";
  if (header_type != "UInt32" && header_type != "UInt64") return std::nullopt;
  const std::string compressor = root.at("compressor");
  if (!compressor.empty() && compressor != "vtkZLibDataCompressor" &&
      compressor != "vtkLZ4DataCompressor" && compressor != "vtkLZMADataCompressor")
    return std::nullopt;
  const Appended data(file.data() + underscore + 1, file.size() - underscore - 1,
                      header_type == "UInt64" ? 8 : 4, compressor);

  // The arrays, by section; anything unexpected hands the file to VTK.
  std::int64_t n_points = -1, n_cells = -1;
  int pieces = 0;
  std::vector<Entry> entries;
  std::map<std::string, int> seen;
  for (const Tag& t : *tags) {
    if (t.name == "Piece") {
      ++pieces;
      const auto np = to_uint(t.at("NumberOfPoints")), nc = to_uint(t.at("NumberOfCells"));
      if (!np || !nc) return std::nullopt;
      n_points = std::int64_t(*np);
      n_cells = std::int64_t(*nc);
      continue;
    }
    if (t.name != "DataArray" && t.name != "Array") continue;
    const std::string section = t.parents.empty() ? "" : t.parents.back();
    if (section != "FieldData" && section != "PointData" && section != "CellData" &&
        section != "Points" && section != "Cells")
      return std::nullopt;
    const auto offset = to_uint(t.at("offset"));
    if (t.at("format") != "appended" || !offset) return std::nullopt;
    const std::string& name = t.at("Name");
    if (name.empty() || seen[section + "/" + name]++) return std::nullopt;
    const auto comps = to_uint(t.has("NumberOfComponents") ? t.at("NumberOfComponents") : "1");
    if (!comps || *comps < 1 || *comps > (1u << 20)) return std::nullopt;
    Entry e{Role::Array, std::size_t(*offset)};
    e.section = section;
    e.name = name;
    e.components = int(*comps);
    if (t.at("type") == "String") {
      if (section == "PointData" || section == "CellData") continue;  // not kept (as from_vtk)
      if (section != "FieldData") return std::nullopt;
      e.role = Role::FieldString;
      entries.push_back(std::move(e));
      continue;
    }
    const auto dt = dtype_of(t.at("type"));
    if (!dt) return std::nullopt;
    e.type = *dt;
    const bool integer = e.type != DType::Float32 && e.type != DType::Float64;
    if (section == "Points") {
      if (e.components != 3 || integer) return std::nullopt;
      e.role = Role::Points;
    } else if (section == "Cells") {
      if (e.components != 1 || !integer) return std::nullopt;
      if (name == "connectivity") e.role = Role::Connectivity;
      else if (name == "offsets") e.role = Role::Offsets;
      else if (name == "types" && e.type == DType::UInt8) e.role = Role::Types;
      else return std::nullopt;  // faces/faceoffsets of polyhedra, or odd types
    } else if (section == "FieldData") {
      const auto nt = to_uint(t.at("NumberOfTuples"));
      if (!nt) return std::nullopt;
      e.tuples = std::int64_t(*nt);
    }
    entries.push_back(std::move(e));
  }
  if (pieces != 1) return std::nullopt;
  auto find = [&](Role r) -> Entry* {
    for (Entry& e : entries)
      if (e.role == r) return &e;
    return nullptr;
  };
  Entry *pts = find(Role::Points), *conn = find(Role::Connectivity), *offs = find(Role::Offsets),
        *types = find(Role::Types);
  if (!pts || !conn || !offs || !types) return std::nullopt;

  // Sizes from the headers (checked against the counts), then one parallel decode straight into
  // the Mesh where the file's types are the Mesh's (float64 points, int64 ids: what write_vtu
  // writes), into a temporary otherwise. The connectivity's length is the last offset, so it is
  // decoded in a second round.
  Mesh m;
  m.points.resize(n_points, 3);  // uninitialised: the decode writes every byte first
  m.offsets.resize(std::size_t(n_cells) + 1);
  m.offsets[0] = 0;
  m.types.resize(std::size_t(n_cells));
  auto wide = [](DType t) { return t == DType::Int64 || t == DType::UInt64; };
  std::vector<Piece> work;
  for (Entry& e : entries) {
    if (e.role == Role::Connectivity) continue;
    const auto decoded = data.plan(e.offset, nullptr, nullptr);
    if (!decoded) return std::nullopt;
    std::byte* dst = nullptr;
    if (e.role == Role::Array) {
      if (e.section != "FieldData") e.tuples = e.section == "PointData" ? n_points : n_cells;
      e.array = DataArray(e.name, e.type, e.components, e.tuples);
      if (*decoded != e.array.bytes()) return std::nullopt;
      dst = static_cast<std::byte*>(e.array.raw());
    } else {
      const std::int64_t values = e.role == Role::Points ? 3 * n_points
                                  : e.role == Role::FieldString ? std::int64_t(*decoded)
                                                                : n_cells;
      if (*decoded != std::size_t(values) * (e.role == Role::FieldString ? 1 : dtype_size(e.type)))
        return std::nullopt;
      if (e.role == Role::Points && e.type == DType::Float64) {
        dst = reinterpret_cast<std::byte*>(m.points.data());
      } else if (e.role == Role::Offsets && wide(e.type)) {
        dst = reinterpret_cast<std::byte*>(m.offsets.data() + 1);
      } else if (e.role == Role::Types) {
        dst = reinterpret_cast<std::byte*>(m.types.data());
      } else {
        e.bytes.resize(*decoded);
        dst = e.bytes.data();
      }
    }
    data.plan(e.offset, dst, &work);
  }
  if (!data.decode(work)) return std::nullopt;
  if (!wide(offs->type) && !widen_ids(*offs, m.offsets.data() + 1, n_cells)) return std::nullopt;
  if (pts->type == DType::Float32) {
    const float* f = reinterpret_cast<const float*>(pts->bytes.data());
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < 3 * n_points; ++i) m.points.data()[i] = double(f[i]);
  }

  const std::int64_t n_conn = m.offsets.back();
  const auto conn_bytes = data.plan(conn->offset, nullptr, nullptr);
  if (n_conn < 0 || !conn_bytes || *conn_bytes != std::size_t(n_conn) * dtype_size(conn->type))
    return std::nullopt;
  m.connectivity.resize(std::size_t(n_conn));
  std::byte* conn_dst = reinterpret_cast<std::byte*>(m.connectivity.data());
  if (!wide(conn->type)) {
    conn->bytes.resize(*conn_bytes);
    conn_dst = conn->bytes.data();
  }
  work.clear();
  data.plan(conn->offset, conn_dst, &work);
  if (!data.decode(work)) return std::nullopt;
  if (!wide(conn->type) && !widen_ids(*conn, m.connectivity.data(), n_conn)) return std::nullopt;
  for (std::int64_t c = 0; c < n_cells; ++c) check_cell_type(m.types[std::size_t(c)], c, path.string());

  for (Entry& e : entries) {
    if (e.role == Role::Array) {
      ArraySet& set = e.section == "PointData" ? m.point_data
                      : e.section == "CellData" ? m.cell_data
                                                : m.field_data;
      set.put(std::move(e.array));
    } else if (e.role == Role::FieldString) {
      // Each value ends with a NUL; several values are joined by newlines, as from_vtk does.
      std::string value;
      const char* c = reinterpret_cast<const char*>(e.bytes.data());
      std::size_t start = 0;
      for (std::size_t k = 0; k < e.bytes.size(); ++k)
        if (c[k] == '\0') {
          value += (start ? "\n" : "") + std::string(c + start, k - start);
          start = k + 1;
        }
      if (start != e.bytes.size()) return std::nullopt;
      m.field_strings[e.name] = value;
    }
  }
  return m;
}

}  // namespace flare::mesh::detail
