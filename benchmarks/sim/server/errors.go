package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// APIError is an error answered in OpenAI's shape, the one vLLM uses:
//
//	{"error": {"message": "...", "type": "BadRequestError", "param": null, "code": 400}}
type APIError struct {
	Status  int
	Type    string
	Message string
	Param   string
}

func (e *APIError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Message) }

func badRequest(param, format string, args ...any) *APIError {
	return &APIError{Status: http.StatusBadRequest, Type: "BadRequestError", Param: param, Message: fmt.Sprintf(format, args...)}
}

func notFound(param, format string, args ...any) *APIError {
	return &APIError{Status: http.StatusNotFound, Type: "NotFoundError", Param: param, Message: fmt.Sprintf(format, args...)}
}

func internalError(format string, args ...any) *APIError {
	return &APIError{Status: http.StatusInternalServerError, Type: "InternalServerError", Message: fmt.Sprintf(format, args...)}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    int     `json:"code"`
}

func writeError(w http.ResponseWriter, e *APIError) {
	d := errorDetail{Message: e.Message, Type: e.Type, Code: e.Status}
	if e.Param != "" {
		d.Param = &e.Param
	}
	body, _ := json.Marshal(errorBody{Error: d})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}
