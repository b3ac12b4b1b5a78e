#include "io/options.h"

#include "io/error.h"

namespace qtalign::io {

void refuse_options_without_effect(const GivenOption& given, const std::vector<std::string>& options,
                                   const std::string& why) {
  for (const std::string& option : options)
    if (given(option)) throw Error(option + " has no effect here: " + why);
}

}  // namespace qtalign::io
