package router

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// apiError is an error answered in OpenAI's shape, the one vLLM uses:
//
//	{"error":{"message":"...","type":"BadRequestError","param":null,"code":400}}
type apiError struct {
	Status  int
	Type    string
	Message string
	Param   string
	// Reason labels the refusal in metrics (e.g. why a 429).
	Reason string
	// RetryAfter is the Retry-After of a 429 or 503 in seconds; 0 is 1.
	RetryAfter int
}

func (e *apiError) Error() string { return e.Message }

func badRequest(param, msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: "BadRequestError", Param: param, Message: msg, Reason: "bad-request"}
}

func notFound(param, msg string) *apiError {
	return &apiError{Status: http.StatusNotFound, Type: "NotFoundError", Param: param, Message: msg, Reason: "unknown-model"}
}

func tooLarge(msg string) *apiError {
	return &apiError{Status: http.StatusRequestEntityTooLarge, Type: "RequestTooLargeError", Message: msg, Reason: "too-large"}
}

func tooMany(reason, msg string) *apiError {
	return &apiError{Status: http.StatusTooManyRequests, Type: "RateLimitError", Message: msg, Reason: reason}
}

func unavailable(reason, msg string) *apiError {
	return &apiError{Status: http.StatusServiceUnavailable, Type: "ServiceUnavailableError", Message: msg, Reason: reason}
}

func unauthorized(msg string) *apiError {
	return &apiError{Status: http.StatusUnauthorized, Type: "AuthenticationError", Message: msg, Reason: "unauthorized"}
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

func writeError(w http.ResponseWriter, e *apiError) {
	d := errorDetail{Message: e.Message, Type: e.Type, Code: e.Status}
	if e.Param != "" {
		d.Param = &e.Param
	}
	body, _ := json.Marshal(errorBody{Error: d})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", e.retryAfter())
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}
