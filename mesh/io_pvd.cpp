// .pvd collections: a small XML index of (timestep, file) pairs written by ParaView and by us.
// Parsed with VTK's XML parser (errors captured like the readers'); written by hand, since the
// format is five lines.
#include <vtkNew.h>
#include <vtkXMLDataElement.h>
#include <vtkXMLDataParser.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <limits>
#include <sstream>

#include "common/atomic_file.h"
#include "common/error.h"
#include "mesh/io.h"
#include "mesh/io_detail.h"

namespace flare::mesh {

namespace fs = std::filesystem;

namespace {

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

double parse_time(const char* text, const std::string& f, int index) {
  FLARE_INPUT_CHECK(text, f, ": DataSet ", index, " has no 'timestep' attribute");
  char* end = nullptr;
  errno = 0;
  double t = std::strtod(text, &end);
  FLARE_INPUT_CHECK(end != text && *end == '\0' && errno == 0 && std::isfinite(t), f,
                    ": DataSet ", index, " has timestep '", text, "', which is not a finite number");
  return t;
}

}  // namespace

MeshSeries read_series(const fs::path& path) {
  detail::silence_vtk();
  const std::string f = path.string();
  MeshSeries series;
  if (detail::lower_extension(path) != ".pvd") {
    series.meshes.push_back(read_mesh(path));
    series.times.push_back(0.0);
    series.files.push_back(f);
    return series;
  }
  detail::check_readable_file(path);
  vtkNew<vtkXMLDataParser> parser;
  detail::VtkErrors errors(parser);
  parser->SetFileName(f.c_str());
  const int ok = parser->Parse();
  FLARE_INPUT_CHECK(ok && !errors.any() && parser->GetRootElement(), f,
                    ": cannot parse this .pvd file (", errors.any() ? errors.first() : "bad XML",
                    "); the file is truncated or corrupt, re-export it");
  vtkXMLDataElement* root = parser->GetRootElement();
  vtkXMLDataElement* collection = root->FindNestedElementWithName("Collection");
  FLARE_INPUT_CHECK(std::string(root->GetName()) == "VTKFile" && collection, f,
                    ": is not a ParaView collection (expected <VTKFile type=\"Collection\"> with a "
                    "<Collection> element)");
  const fs::path dir = path.parent_path();
  int index = 0;
  for (int i = 0; i < collection->GetNumberOfNestedElements(); ++i) {
    vtkXMLDataElement* e = collection->GetNestedElement(i);
    if (std::string(e->GetName()) != "DataSet") continue;
    const char* file = e->GetAttribute("file");
    FLARE_INPUT_CHECK(file && *file, f, ": DataSet ", index, " has no 'file' attribute");
    const double t = parse_time(e->GetAttribute("timestep"), f, index);
    fs::path p = fs::path(file).is_absolute() ? fs::path(file) : dir / file;
    FLARE_INPUT_CHECK(detail::lower_extension(p) != ".pvd", f, ": DataSet ", index,
                      " refers to another .pvd (", file, "); nested collections are not supported");
    std::error_code ec;
    FLARE_INPUT_CHECK(fs::exists(p, ec), f, ": lists '", file, "', but ", p.string(),
                      " does not exist (the .pvd and its files must stay together)");
    series.meshes.push_back(read_mesh(p));
    series.times.push_back(t);
    series.files.push_back(p.string());
    ++index;
  }
  FLARE_INPUT_CHECK(index > 0, f, ": the collection lists no DataSet");
  return series;
}

void write_pvd(const fs::path& pvd, const std::vector<double>& times,
               const std::vector<std::string>& files) {
  FLARE_CHECK(times.size() == files.size(), "write_pvd: ", times.size(), " times but ",
              files.size(), " files");
  std::ostringstream os;
  os << std::setprecision(std::numeric_limits<double>::max_digits10);
  os << "<?xml version=\"1.0\"?>\n"
        "<VTKFile type=\"Collection\" version=\"0.1\" byte_order=\"LittleEndian\">\n"
        "  <Collection>\n";
  for (std::size_t i = 0; i < times.size(); ++i) {
    FLARE_CHECK(std::isfinite(times[i]), "write_pvd: time ", i, " is not finite");
    os << "    <DataSet timestep=\"" << times[i] << "\" group=\"\" part=\"0\" file=\""
       << xml_escape(files[i]) << "\"/>\n";
  }
  os << "  </Collection>\n</VTKFile>\n";
  write_atomically(pvd, [&](const fs::path& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    out << os.str();
    out.close();
    FLARE_INPUT_CHECK(out.good(), pvd.string(), ": could not write (check free disk space)");
  });
}

}  // namespace flare::mesh
