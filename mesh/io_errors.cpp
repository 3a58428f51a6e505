// Keeping VTK quiet. VTK reports problems by printing to its output window (stderr); a command
// line tool must instead turn them into one-line InputErrors. Two channels are needed: an
// ErrorEvent observer on each reader/writer, and a replacement output window for errors raised by
// objects we hold no observer on (the XML parser a reader creates internally). The window keeps
// text per thread, so concurrent reads do not see each other's errors.
//
// Why not vtkObject::GlobalWarningDisplayOff(): VTK 9.1's vtkErrorMacro skips the ErrorEvent as
// well when warnings are off, and we would lose the message we want to report. VTK 9 also copies
// every message to its logger (loguru), which writes to stderr on its own: that is switched off.
//
// Warnings whose text says "error" count as errors: the legacy reader reports a truncated binary
// section only as the generic warning "Error reading binary data!" and returns partial data.
#include <vtkCommand.h>
#include <vtkLogger.h>
#include <vtkNew.h>
#include <vtkObject.h>
#include <vtkObjectFactory.h>
#include <vtkOutputWindow.h>
#include <vtkSmartPointer.h>

#include <cctype>
#include <mutex>
#include <string>
#include <vector>

#include "mesh/io_detail.h"

namespace flare::mesh::detail {

namespace {

// Errors seen by the output window on this thread; each VtkErrors remembers where it started.
thread_local std::vector<std::string> t_window_errors;

class QuietOutputWindow : public vtkOutputWindow {
 public:
  static QuietOutputWindow* New();
  vtkTypeMacro(QuietOutputWindow, vtkOutputWindow);
  void DisplayErrorText(const char* text) override { t_window_errors.emplace_back(text); }
  void DisplayText(const char*) override {}
  void DisplayWarningText(const char* text) override { keep_if_error(text); }
  void DisplayGenericWarningText(const char* text) override { keep_if_error(text); }

 private:
  static void keep_if_error(const char* text) {
    std::string s = text ? text : "";
    std::string lower = s;
    for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (lower.find("error") != std::string::npos) t_window_errors.push_back(s);
  }
  void DisplayDebugText(const char*) override {}
};
vtkStandardNewMacro(QuietOutputWindow);

class ErrorObserver : public vtkCommand {
 public:
  static ErrorObserver* New() { return new ErrorObserver; }
  void Execute(vtkObject*, unsigned long, void* data) override {
    m_errors.emplace_back(data ? static_cast<const char*>(data) : "unknown VTK error");
  }
  std::vector<std::string> m_errors;
};

// "vtkXMLUnstructuredGridReader (0x55d0): Error parsing XML in file ...\n\n" ->
// "Error parsing XML in file ...".
std::string one_line(std::string s) {
  if (s.rfind("ERROR: In ", 0) == 0)
    if (auto nl = s.find('\n'); nl != std::string::npos) s.erase(0, nl + 1);
  if (auto p = s.find("): "); p != std::string::npos && s.rfind("vtk", 0) == 0) s.erase(0, p + 3);
  for (char& c : s)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  if (s.size() > 300) s = s.substr(0, 300) + "...";
  return s;
}

}  // namespace

void silence_vtk() {
  static std::once_flag once;
  std::call_once(once, [] {
    vtkLogger::SetStderrVerbosity(vtkLogger::VERBOSITY_OFF);
    vtkNew<QuietOutputWindow> window;
    vtkOutputWindow::SetInstance(window);
  });
}

struct VtkErrors::Impl {
  vtkObject* object = nullptr;
  unsigned long tag = 0;
  vtkSmartPointer<ErrorObserver> observer;
  std::size_t window_start = 0;
};

VtkErrors::VtkErrors(vtkObject* object) : m_impl(std::make_unique<Impl>()) {
  silence_vtk();
  m_impl->window_start = t_window_errors.size();
  if (object) {
    m_impl->object = object;
    m_impl->observer = vtkSmartPointer<ErrorObserver>::New();
    m_impl->tag = object->AddObserver(vtkCommand::ErrorEvent, m_impl->observer);
  }
}

VtkErrors::~VtkErrors() {
  if (m_impl->object) m_impl->object->RemoveObserver(m_impl->tag);
  t_window_errors.resize(m_impl->window_start);
}

bool VtkErrors::any() const {
  return (m_impl->observer && !m_impl->observer->m_errors.empty()) ||
         t_window_errors.size() > m_impl->window_start;
}

std::string VtkErrors::first() const {
  // The window catches the innermost error first (the parser's), which says the most.
  if (t_window_errors.size() > m_impl->window_start)
    return one_line(t_window_errors[m_impl->window_start]);
  if (m_impl->observer && !m_impl->observer->m_errors.empty())
    return one_line(m_impl->observer->m_errors.front());
  return "";
}

}  // namespace flare::mesh::detail
